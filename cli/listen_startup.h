#pragma once

#include <chrono>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "commands.h"
#include "tykhook/receiver.h"

namespace tykhook::cli {

/// What `tykhook listen` writes on standard error before its first request (DESIGN.md, "CLI
/// contract"): the first line says where it listens, the next ones what it keeps and where.
/// Text lines start with "tykhook listen: "; with --log-format json every line is one JSON
/// object with a "time", the first one carrying "listening", the last one "deliveries_kept".
class StartupLines {
 public:
  /// Lines of `tykhook COMMAND` ("listen", "work").
  explicit StartupLines(bool json, std::string command = "listen")
      : json_(json), command_(std::move(command)) {}

  /// The first line: `tykhook listening on URL`, or {"time", "listening": URL}.
  void listening(const std::string& url) const;
  /// A line that says `text`, or the JSON object `fields` with the time first.
  void say(nlohmann::ordered_json fields, std::string_view text) const;
  /// A line of a warning that does not stop it: `tykhook listen: warning: MESSAGE`, or
  /// {"time", "warning": "tykhook listen: MESSAGE"}.
  void warning(std::string_view message) const;
  /// A line of an error that stops the receiver: `tykhook listen: MESSAGE`, or
  /// {"time", "error": "tykhook listen: MESSAGE"}.
  void error(std::string_view message) const;

 private:
  bool json_;
  std::string command_;
};

/// What is on disk before the receiver opens its store and capture directory, so that the
/// start-up lines can name the files it created.
struct FilesBefore {
  bool store_file = false;   ///< the file of a `sqlite:PATH` store existed
  bool capture_dir = false;  ///< the --capture-dir directory existed
};

/// Looks at the files that `options` will open.
[[nodiscard]] FilesBefore look_before(const ListenOptions& options);

/// The start-up lines after the first: the secrets (how many, from which options), the store
/// (what it keeps, for how long, the file it created), the capture directory, the capture files
/// an interrupted run left, the schemas note, and last whether the deliveries themselves are
/// kept (in the queue with a target; without one and without --capture-dir they are not).
void describe_keeping(const StartupLines& lines, const ListenOptions& options,
                      const FilesBefore& before, std::size_t secrets,
                      std::chrono::milliseconds store_ttl, const CaptureRecovery& recovery,
                      const std::optional<std::string>& schemas_note, const Target* target);

/// The inspector's line (`--ui`): its address with `token` when listen made it, or the file that
/// holds it; and a warning when other machines can reach it.
void describe_inspector(const StartupLines& lines, const ListenOptions& options,
                        const std::string& url, const std::string& token);

/// The line that says where deliveries are handed on, and when they are tried again.
void handing_on_line(const StartupLines& lines, const DeliveryOptions& options,
                     const Target& target);

}  // namespace tykhook::cli
