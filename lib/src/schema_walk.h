#pragma once

// The walk of a schema document: its subschemas, its "$ref"s, and where in a Message its
// date-times are. The registry (schema.cpp) checks a document with it when loading, and the
// wording of errors (schema_errors.cpp) follows it to the subschema of a place.

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace tykhook::detail {

/// One step from a value to one of its children, on the way to a date-time value.
struct PathStep {
  enum class Kind { property, index, every_item };
  Kind kind = Kind::property;
  std::string name;       ///< for Kind::property
  std::size_t index = 0;  ///< for Kind::index
  bool operator==(const PathStep&) const = default;
};
/// The steps from a Message to a value.
using Path = std::vector<PathStep>;

/// Escapes `token` for a JSON pointer (RFC 6901, section 3: "~" as "~0", "/" as "~1").
[[nodiscard]] std::string escape_token(std::string_view token);

/// Follows local references ("$ref": "#/definitions/x") from `node` to the schema they name in
/// `root`; returns nullptr for a reference that leaves the document or loops.
[[nodiscard]] const nlohmann::json* follow_refs(const nlohmann::json& root,
                                                const nlohmann::json& node);

/// Removes every "format" that tykhook checks itself (schema_rules.h) from `schema`, for the
/// copy that valijson compiles; check_date_times() applies them.
void strip_date_time_formats(nlohmann::json& schema);

/// Throws tykhook::Error starting with `where` for a "$ref" that valijson 1.0 would crash on:
/// one that leaves the file, leads nowhere, or loops back on the same value.
void check_references(const nlohmann::json& root, const std::string& where);

/// The paths to every value that `root` declares "format": "date-time", through "properties",
/// "items", "allOf" and local references. One under a conditional keyword (anyOf, oneOf, not,
/// if) or a pattern is not found: whether it applies depends on the value, and the events'
/// schemas do not use them.
[[nodiscard]] std::vector<Path> date_time_paths(const nlohmann::json& root);

/// Checks every value of `message` at `path` with is_date_time() (schema_rules.h), adding
/// "<pointer>: expected an RFC 3339 date-time, got ..." to `errors` for each that fails. A value
/// that is not a string is left to the "type" check, and an absent one to "required".
void check_date_times(const nlohmann::json& message, const Path& path,
                      std::vector<std::string>& errors);

}  // namespace tykhook::detail
