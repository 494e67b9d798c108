#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "tykhook/events.h"

namespace tykhook {

/// The JSON Schemas (draft-07) of the events' Messages, each compiled once and reused.
/// Thread-safe: concurrent first uses of one event's schema share one compilation.
class SchemaRegistry {
 public:
  /// The schemas embedded into the library at build time from `schemas/`; each is compiled the
  /// first time a delivery of its event needs it.
  [[nodiscard]] static std::shared_ptr<const SchemaRegistry> embedded();
  /// The text of the embedded schema file of `event`, as written in `schemas/`.
  [[nodiscard]] static std::string_view embedded_text(Event event);
  /// Loads and compiles `<WireEventName>.schema.json` from `dir` for every event that has one
  /// there; the others keep their embedded schema (built_in_events()). Throws tykhook::Error
  /// naming the file when one is not a valid schema, or when `dir` holds none of them.
  [[nodiscard]] static std::shared_ptr<const SchemaRegistry> from_directory(
      const std::filesystem::path& dir);

  ~SchemaRegistry();

  /// Validates `message` against the schema of `event`. Returns every violation as
  /// "<JSON pointer>: <what was expected>", e.g. "/Message/ID: expected integer, got string";
  /// empty when the message is valid.
  [[nodiscard]] std::vector<std::string> validate(Event event, const nlohmann::json& message) const;
  /// For a registry from from_directory(): the events its directory had no file for, which
  /// use their embedded schema, in catalogue order. Empty for embedded().
  [[nodiscard]] const std::vector<Event>& built_in_events() const;
  /// The schema document of `event`; throws std::invalid_argument for an event outside the
  /// catalogue.
  [[nodiscard]] const nlohmann::json& schema(Event event) const;

  struct Impl;

 private:
  explicit SchemaRegistry(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tykhook
