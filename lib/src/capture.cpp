#include "tykhook/capture.h"

#include <algorithm>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "capture_formats.h"
#include "json_error_text.h"

// read_captures: which format a capture is in, told from its content (DESIGN.md, "CLI
// contract"). Each format is read in a file of its own: capture_http.cpp, capture_json.cpp and
// capture_har.cpp.

namespace tykhook {
namespace {

using detail::capture_marker;
using Json = nlohmann::json;

/// Deepest nesting of a JSON text that is parsed to detect its format. A HAR file nests
/// about six levels; DESIGN.md calls a body deeper than 64 levels malformed_json anyway.
constexpr int max_json_depth = 64;

constexpr std::string_view expected_formats =
    "expected a raw HTTP request, a tykhook JSON capture, a HAR file or a JSON body with "
    "\"Event\"";

constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/// A bare body: the portal's JSON as it came, to be verified with --signature.
Parsed<Request> bare_body(std::string_view text) {
  Request request;
  request.method = "POST";
  request.target = "/";
  request.body = std::string(text);
  return {std::move(request), {}};
}

/// True when an object's first member is the marker of a capture format ("tykhook_capture"
/// or "log"), judged from the text alone.
bool names_capture_format(std::string_view text, std::size_t start) {
  std::size_t i = start + 1;
  while (i < text.size() && is_space(text[i])) ++i;
  const auto rest = text.substr(i);
  return rest.starts_with("\"" + std::string(capture_marker) + "\"") || rest.starts_with("\"log\"");
}

std::vector<Capture> read_json(std::string_view text, std::size_t start, std::string_view input) {
  const auto one = [&](Parsed<Request> request) {
    return std::vector<Capture>{{std::string(input), std::move(request)}};
  };
  const std::string_view json = text.substr(start);
  std::optional<Json> document;
  std::string problem;
  if (detail::too_deep_at(json)) {
    problem = "JSON nests deeper than " + std::to_string(max_json_depth) + " levels";
  } else {
    try {
      document = Json::parse(json.begin(), json.end());
    } catch (const Json::exception& e) {
      // Without the "[json.exception.parse_error.101] " tag, which means nothing to a reader,
      // and with the input it quotes cut short and escaped (json_error_text.h).
      problem = "not valid JSON (" + detail::json_error_text(e.what()) + ")";
    }
  }
  if (!document) {
    // A text that starts like a capture file but does not parse is a broken capture. Any
    // other one is passed on as a bare body: only after its signature is checked may the
    // verifier call it malformed_json, and an unauthenticated sender learns nothing more.
    if (names_capture_format(text, start)) {
      return one(Parsed<Request>::failure(std::string(input) + ": " + problem +
                                          "; fix the JSON of the capture file"));
    }
    return one(bare_body(text));
  }
  // An object with "Event" is a portal body whatever else it holds: the portal's bodies
  // always carry it and HAR files never do. A capture's marker still wins.
  if (document->contains(capture_marker)) return {detail::read_json_capture(*document, input)};
  if (document->contains("Event")) return one(bare_body(text));
  if (document->contains("log")) return detail::read_har(*document, input);
  return one(Parsed<Request>::failure(
      std::string(input) + ": not a capture: a JSON object without \"" +
      std::string(capture_marker) + "\", \"log\" or \"Event\"; " + std::string(expected_formats)));
}

}  // namespace

std::vector<Capture> read_captures(std::string_view text, std::string_view input) {
  std::size_t start = text.starts_with(utf8_bom) ? utf8_bom.size() : 0;
  while (start < text.size() && is_space(text[start])) ++start;
  const auto line =
      1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(start), '\n');
  const std::string where = std::string(input) + ":" + std::to_string(line) + ": ";
  if (start == text.size()) {
    return {{std::string(input),
             Parsed<Request>::failure(where + "the input is empty, not a capture; " +
                                      std::string(expected_formats))}};
  }
  if (text[start] == '{') return read_json(text, start, input);
  if (detail::looks_like_request_line(text, start)) {
    return {{std::string(input), detail::read_raw_http(text, start, input)}};
  }
  return {{std::string(input),
           Parsed<Request>::failure(where + "not a capture; " + std::string(expected_formats))}};
}

}  // namespace tykhook
