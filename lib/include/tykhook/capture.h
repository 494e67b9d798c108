#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tykhook/error.h"
#include "tykhook/request.h"
#include "tykhook/timestamp.h"

namespace tykhook {

/// One captured request found in an input: where it came from and the request, or why it
/// could not be read (the verdict malformed_request), and when it arrived if the capture says.
struct Capture {
  std::string input;        ///< "PATH", or "PATH#N" for the N-th entry (from 0) of a HAR file
  Parsed<Request> request;  ///< the request, or an error "<input>:<line>: <what>; <how to fix>"
  /// When the request arrived, as the capture records it: "received" of a tykhook JSON
  /// capture, "startedDateTime" of a HAR entry; nullopt for raw HTTP and a bare body.
  std::optional<TimePoint> received = std::nullopt;
};

/// Reads every capture in `text`, detecting its format from the content (DESIGN.md, "CLI
/// contract"): a raw HTTP/1.x request, a tykhook JSON capture, a HAR 1.2 file (one capture per
/// entry), or a bare body (a JSON object with `Event`, returned as a POST without headers).
/// `input` names the source in results and messages. Never throws on any input.
[[nodiscard]] std::vector<Capture> read_captures(std::string_view text, std::string_view input);

/// Writes `request` as a tykhook JSON capture (one JSON object, body in base64, the time it
/// was received as RFC 3339), the format that `listen --capture-dir` writes and `verify` reads.
[[nodiscard]] std::string write_json_capture(const Request& request, TimePoint received);

/// What a receiver found in its capture directory when it started: files that an interrupted
/// run (killed, or the machine stopped) left under their hidden temporary names
/// (".<capture name>.tmp"). Files that another running receiver is writing are left alone.
struct CaptureRecovery {
  /// Whole captures whose body matches the key in their name: they now have that name (the
  /// delivery was in hand, unanswered; its claim may be in the store).
  std::size_t recovered = 0;
  std::size_t removed = 0;  ///< incomplete files (never written whole), deleted
};

/// Writes `request` as a raw HTTP/1.1 request with a Content-Length, body bytes exact.
[[nodiscard]] std::string write_raw_capture(const Request& request);

}  // namespace tykhook
