#pragma once

// Private to the capture reader: what the file of each format (capture_http.cpp,
// capture_json.cpp, capture_har.cpp) gives to read_captures (capture.cpp), which tells the
// formats apart, and what the JSON formats share.

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "http_syntax.h"
#include "json_error_text.h"
#include "tykhook/capture.h"
#include "tykhook/error.h"
#include "tykhook/request.h"

namespace tykhook::detail {

/// The member that marks a tykhook JSON capture.
inline constexpr std::string_view capture_marker = "tykhook_capture";

/// Quotes input bytes for a message: at most 60 of them, unprintable ones as \xNN, so that a
/// message stays one readable line whatever the capture holds.
inline std::string quote_input(std::string_view text) { return quote_bytes(text, 60); }

// ---- raw HTTP/1.x (capture_http.cpp) ----------------------------------------------------------

/// True when the line at `start` reads like the start of an HTTP request: it names an HTTP
/// version, or begins with an upper-case method and a space. Other text is no capture at all.
[[nodiscard]] bool looks_like_request_line(std::string_view text, std::size_t start);

/// Reads the raw HTTP/1.x request (RFC 9112) that starts at byte `start` of `text`; errors
/// name "<input>:<line>".
[[nodiscard]] Parsed<Request> read_raw_http(std::string_view text, std::size_t start,
                                            std::string_view input);

// ---- JSON formats (capture_json.cpp, capture_har.cpp) ----------------------------------------

/// Reads a tykhook JSON capture: a `document` that holds capture_marker, with the time it
/// was received when it records one.
[[nodiscard]] Capture read_json_capture(const nlohmann::json& document, std::string_view input);

/// Reads a HAR 1.2 file: one capture per entry of log.entries, named "<input>#N", received at
/// the entry's startedDateTime when that is an RFC 3339 time.
[[nodiscard]] std::vector<Capture> read_har(const nlohmann::json& document, std::string_view input);

/// Names a JSON type with its article, for messages: "an object", "a number".
[[nodiscard]] std::string describe(nlohmann::json::value_t type);

/// Reads fields of a JSON document into checked values; each error names the field's path.
class JsonFields {
 public:
  explicit JsonFields(std::string_view input) : input_(input) {}

  std::string error(std::string_view path, std::string_view what) const {
    return std::string(input_) + ": " + std::string(path) + ": " + std::string(what);
  }

  /// Returns the member `key` of `object`, or an error when it is missing.
  Parsed<const nlohmann::json*> member(const nlohmann::json& object, std::string_view key,
                                       std::string_view path, std::string_view how) const {
    const auto found = object.find(key);
    if (found == object.end()) {
      return Parsed<const nlohmann::json*>::failure(error(path, "missing; " + std::string(how)));
    }
    return {&*found, {}};
  }

  Parsed<const nlohmann::json*> typed(const nlohmann::json& object, std::string_view key,
                                      std::string_view path, nlohmann::json::value_t type,
                                      std::string_view how) const {
    auto value = member(object, key, path, how);
    if (value && (*value)->type() != type) {
      return Parsed<const nlohmann::json*>::failure(
          error(path, "expected " + describe(type) + ", got " + describe((*value)->type()) + "; " +
                          std::string(how)));
    }
    return value;
  }

  Parsed<std::string> string(const nlohmann::json& object, std::string_view key,
                             std::string_view path, std::string_view how) const {
    auto value = typed(object, key, path, nlohmann::json::value_t::string, how);
    if (!value) return Parsed<std::string>::failure(std::move(value.error));
    return {(*value)->get_ref<const std::string&>(), {}};
  }

  Parsed<std::string> method(const nlohmann::json& object, std::string_view key,
                             std::string_view path) const {
    auto method = string(object, key, path, "give the HTTP method as a string, e.g. \"POST\"");
    if (method && !is_token(*method)) {
      return Parsed<std::string>::failure(error(
          path, quote_input(*method) + " is not an HTTP method; expected a token, e.g. \"POST\""));
    }
    return method;
  }

  Parsed<std::string> target(std::string value, std::string_view path) const {
    if (!is_target(value)) {
      return Parsed<std::string>::failure(error(
          path,
          quote_input(value) + " is not a request target; expected visible ASCII, e.g. \"/hook\""));
    }
    return {std::move(value), {}};
  }

  Parsed<Header> header(std::string name, std::string value, std::string_view path) const {
    if (!is_token(name)) {
      return Parsed<Header>::failure(
          error(path, "header name " + quote_input(name) + " is not a token; remove separators"));
    }
    if (!is_field_value(value)) {
      return Parsed<Header>::failure(error(path, "header value has a NUL, CR or LF; remove it"));
    }
    return {Header{std::move(name), std::move(value)}, {}};
  }

 private:
  std::string_view input_;
};

}  // namespace tykhook::detail
