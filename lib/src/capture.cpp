#include "tykhook/capture.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base64.h"
#include "hex.h"
#include "http_syntax.h"
#include "json_error_text.h"

namespace tykhook {
namespace {

using detail::decode_base64;
using detail::encode_base64;
using detail::is_field_value;
using detail::is_ows;
using detail::is_target;
using detail::is_token;
using Json = nlohmann::json;

// Limits of the raw HTTP reader. They bound the memory and time that one capture can cost
// before its body is reached, whatever the input; the body itself is bounded by the input's
// size here and by the verifier's max_body later.

/// Longest line (request line, header, chunk size or trailer), line end excluded.
constexpr std::size_t max_line_bytes = 8 * 1024;
/// Longest header section: request line, headers and their line ends, up to the empty line.
/// The trailer section of a chunked body has the same limit.
constexpr std::size_t max_header_section_bytes = 64 * 1024;
/// Most header fields in a request (and trailer fields after a chunked body).
constexpr std::size_t max_header_count = 100;
/// Deepest nesting of a JSON text that is parsed to detect its format. A HAR file nests
/// about six levels; DESIGN.md calls a body deeper than 64 levels malformed_json anyway.
constexpr int max_json_depth = 64;

/// The member that marks a tykhook JSON capture, and the version this code reads and writes.
constexpr std::string_view capture_marker = "tykhook_capture";
constexpr int capture_version = 1;

constexpr std::string_view expected_formats =
    "expected a raw HTTP request, a tykhook JSON capture, a HAR file or a JSON body with "
    "\"Event\"";

constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";

// ---- small text helpers -------------------------------------------------------------------

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/// Quotes input bytes for a message: at most 60 of them, unprintable ones as \xNN, so that a
/// message stays one readable line whatever the capture holds.
std::string quote(std::string_view text) { return detail::quote_bytes(text, 60); }

// ---- raw HTTP/1.x ---------------------------------------------------------------------------

/// One line of the input: its content without the line end, and where the next line starts.
struct Line {
  std::string_view content;
  std::size_t next = 0;
  bool terminated = false;  ///< false for a last line that ends with the input
};

/// Reads a raw HTTP/1.x request (RFC 9112) from `text`, starting at `start`.
class RawHttpReader {
 public:
  RawHttpReader(std::string_view text, std::string_view input) : text_(text), input_(input) {}

  Parsed<Request> read(std::size_t start) {
    const auto request_line = line_at(start);
    if (!request_line) return failure(request_line.error);
    auto parsed = parse_request_line(request_line->content);
    if (!parsed) return fail_at(start, parsed.error);
    Request request = std::move(*parsed);

    // Headers, up to the empty line. An input that ends after a header line ends the header
    // section too (a hand-written GET needs no empty line); the body is then empty.
    std::size_t pos = request_line->next;
    std::size_t content_length_pos = 0;
    std::size_t chunked_pos = 0;
    std::optional<std::uint64_t> content_length;
    std::string transfer_encoding;
    bool ended = !request_line->terminated;
    while (!ended) {
      const auto line = line_at(pos);
      if (!line) return failure(line.error);
      if (line->next - start > max_header_section_bytes) {
        return fail_at(pos, "header section is longer than " +
                                std::to_string(max_header_section_bytes) +
                                " bytes; keep a capture's headers under 64 KiB");
      }
      if (line->content.empty()) {
        pos = line->next;
        break;
      }
      if (request.headers.size() == max_header_count) {
        return fail_at(pos, "more than " + std::to_string(max_header_count) +
                                " headers; a capture may carry at most 100 headers");
      }
      auto header = parse_header_line(line->content);
      if (!header) return fail_at(pos, header.error);
      if (header_name_equals(header->name, "Content-Length")) {
        auto length = parse_content_length(header->value);
        if (!length) return fail_at(pos, length.error);
        if (content_length && *content_length != *length) {
          return fail_at(pos, "Content-Length " + std::to_string(*length) +
                                  " conflicts with an earlier Content-Length " +
                                  std::to_string(*content_length) + "; keep one");
        }
        content_length = *length;
        content_length_pos = pos;
      } else if (header_name_equals(header->name, "Transfer-Encoding")) {
        if (!transfer_encoding.empty()) transfer_encoding += ',';
        transfer_encoding += header->value;
        chunked_pos = pos;
      }
      request.headers.push_back(std::move(*header));
      pos = line->next;
      ended = !line->terminated;
    }
    if (ended) pos = text_.size();

    if (chunked_pos != 0) {
      if (auto error = check_chunked(transfer_encoding); !error.empty()) {
        return fail_at(chunked_pos, error);
      }
      if (content_length) {
        return fail_at(std::max(chunked_pos, content_length_pos),
                       "Content-Length and Transfer-Encoding: chunked together; use one of "
                       "them (both at once allow request smuggling)");
      }
      auto body = read_chunked(pos);
      if (!body) return failure(body.error);
      request.body = std::move(*body);
    } else if (content_length) {
      const std::size_t available = text_.size() - pos;
      if (*content_length > available) {
        return fail_at(content_length_pos, "body has " + std::to_string(available) +
                                               " bytes but Content-Length is " +
                                               std::to_string(*content_length) +
                                               "; fix Content-Length or supply the whole body");
      }
      // Bytes after the body are not part of this request (DESIGN.md, "CLI contract").
      request.body = std::string(text_.substr(pos, static_cast<std::size_t>(*content_length)));
    } else {
      request.body = std::string(text_.substr(pos));
    }
    return {std::move(request), {}};
  }

 private:
  std::size_t line_number(std::size_t pos) const {
    const auto end = text_.begin() + static_cast<std::ptrdiff_t>(std::min(pos, text_.size()));
    return 1 + static_cast<std::size_t>(std::count(text_.begin(), end, '\n'));
  }

  Parsed<Request> failure(std::string message) const {
    return Parsed<Request>::failure(std::move(message));
  }

  /// Prefixes `what` with "<input>:<line>: " for the line that holds byte `pos`.
  std::string where(std::size_t pos, std::string_view what) const {
    return std::string(input_) + ":" + std::to_string(line_number(pos)) + ": " + std::string(what);
  }

  Parsed<Request> fail_at(std::size_t pos, std::string_view what) const {
    return failure(where(pos, what));
  }

  /// Reads the line that starts at `pos`; a line end is LF or CRLF. Looks at no more than
  /// max_line_bytes + 2 bytes, so a huge line costs no more than a long one.
  Parsed<Line> line_at(std::size_t pos) const {
    const std::size_t remaining = text_.size() - pos;
    const std::size_t window = std::min(remaining, max_line_bytes + 2);
    const char* begin = text_.data() + pos;
    const void* newline = window == 0 ? nullptr : std::memchr(begin, '\n', window);
    Line line;
    if (newline != nullptr) {
      const auto length = static_cast<std::size_t>(static_cast<const char*>(newline) - begin);
      line = {text_.substr(pos, length), pos + length + 1, true};
    } else if (remaining > window) {
      return Parsed<Line>::failure(where(pos, too_long()));
    } else {
      line = {text_.substr(pos), text_.size(), false};
    }
    if (!line.content.empty() && line.content.back() == '\r') line.content.remove_suffix(1);
    if (line.content.size() > max_line_bytes) return Parsed<Line>::failure(where(pos, too_long()));
    return {line, {}};
  }

  static std::string too_long() {
    return "line is longer than " + std::to_string(max_line_bytes) +
           " bytes; keep the request line and each header under 8 KiB";
  }

  /// Parses "METHOD TARGET HTTP/1.x" (RFC 9112, section 3) into a request without headers.
  static Parsed<Request> parse_request_line(std::string_view line) {
    using Result = Parsed<Request>;
    std::vector<std::string_view> words;
    std::size_t i = 0;
    while (i < line.size() && words.size() <= 3) {
      while (i < line.size() && is_ows(line[i])) ++i;
      const std::size_t begin = i;
      while (i < line.size() && !is_ows(line[i])) ++i;
      if (i > begin) words.push_back(line.substr(begin, i - begin));
    }
    const std::string expected = "; expected \"METHOD TARGET HTTP/1.1\"";
    const std::string quoted = "request line " + quote(line);
    if (words.size() > 3) return Result::failure(quoted + " has more than three words" + expected);
    if (words.size() < 3) {
      const bool has_version = !words.empty() && words.back().starts_with("HTTP/");
      return Result::failure(quoted + (has_version ? " has no target" : " has no HTTP version") +
                             expected);
    }
    if (!is_token(words[0])) return Result::failure(quoted + " has no valid method" + expected);
    if (!is_target(words[1])) return Result::failure(quoted + " has no valid target" + expected);
    const std::string_view version = words[2];
    if (!version.starts_with("HTTP/")) {
      return Result::failure(quoted + " has no HTTP version" + expected);
    }
    if (version.size() != 8 || version.substr(5, 2) != "1." || version[7] < '0' ||
        version[7] > '9') {
      return Result::failure("HTTP version " + quote(version) +
                             " is not supported; expected HTTP/1.0 or HTTP/1.1");
    }
    Request request;
    request.method = std::string(words[0]);
    request.target = std::string(words[1]);
    return {std::move(request), {}};
  }

  /// Parses "Name: value" (RFC 9112, section 5), keeping the name's case and trimming the
  /// value's optional white space.
  static Parsed<Header> parse_header_line(std::string_view line) {
    if (is_ows(line.front())) {
      return Parsed<Header>::failure(
          "header line starts with white space (obsolete line folding); join it to the "
          "previous header's value");
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      return Parsed<Header>::failure("header line " + quote(line) +
                                     " has no colon; expected \"Name: value\"");
    }
    const std::string_view name = line.substr(0, colon);
    if (!is_token(name)) {
      return Parsed<Header>::failure("header name " + quote(name) +
                                     " is not a token; remove white space and separators "
                                     "before the colon");
    }
    const std::string_view value = detail::trim(line.substr(colon + 1));
    if (!is_field_value(value)) {
      return Parsed<Header>::failure("header " + quote(name) +
                                     " has a NUL or a bare CR in its value; remove it");
    }
    return {Header{std::string(name), std::string(value)}, {}};
  }

  /// Parses a Content-Length value: decimal digits only (RFC 9110, section 8.6).
  static Parsed<std::uint64_t> parse_content_length(std::string_view value) {
    using Result = Parsed<std::uint64_t>;
    if (const auto length = detail::parse_content_length(value)) return {*length, {}};
    if (!detail::is_decimal(value)) {
      return Result::failure("Content-Length " + quote(value) +
                             " is not a decimal number; expected digits only, e.g. "
                             "Content-Length: 42");
    }
    return Result::failure("Content-Length " + quote(value) +
                           " overflows 64 bits; expected the body's size in bytes");
  }

  /// Accepts the Transfer-Encoding list "chunked" alone: any other coding would leave the
  /// body in a form that the signature does not cover.
  static std::string check_chunked(std::string_view codings) {
    std::size_t count = 0;
    bool chunked = true;
    std::size_t begin = 0;
    while (begin <= codings.size()) {
      auto end = codings.find(',', begin);
      if (end == std::string_view::npos) end = codings.size();
      const auto coding = detail::trim(codings.substr(begin, end - begin));
      if (!coding.empty()) {
        ++count;
        chunked = chunked && header_name_equals(coding, "chunked");
      }
      begin = end + 1;
    }
    if (count == 1 && chunked) return {};
    return "Transfer-Encoding " + quote(codings) + " is not supported; expected chunked alone";
  }

  /// Decodes a chunked body (RFC 9112, section 7.1) that starts at `pos`: chunk extensions
  /// and trailer fields are read past and ignored.
  Parsed<std::string> read_chunked(std::size_t pos) const {
    using Result = Parsed<std::string>;
    std::string body;
    while (true) {
      if (pos == text_.size()) {
        return Result::failure(where(pos,
                                     "chunked body ends before its last chunk; end it with a "
                                     "chunk of size 0 and an empty line"));
      }
      const auto line = line_at(pos);
      if (!line) return Result::failure(line.error);
      auto size = parse_chunk_size(line->content);
      if (!size) return Result::failure(where(pos, size.error));
      if (*size == 0) {
        if (!line->terminated) return Result::failure(where(pos, no_final_empty_line()));
        if (auto error = skip_trailers(line->next); !error.empty()) {
          return Result::failure(std::move(error));
        }
        return {std::move(body), {}};
      }
      const std::size_t available = text_.size() - line->next;
      if (!line->terminated || *size > available) {
        return Result::failure(where(
            pos, "chunk of " + std::to_string(*size) + " bytes is cut off after " +
                     std::to_string(available) + " bytes; supply the whole chunk or fix its size"));
      }
      const auto data = static_cast<std::size_t>(*size);
      body.append(text_.substr(line->next, data));
      pos = line->next + data;
      const std::string_view after = text_.substr(pos, 2);
      if (after.starts_with("\r\n")) {
        pos += 2;
      } else if (after.starts_with("\n")) {
        pos += 1;
      } else {
        return Result::failure(where(pos,
                                     "chunk data is not followed by a line end; check that "
                                     "the chunk size " +
                                         std::to_string(*size) + " counts its bytes"));
      }
    }
  }

  /// Parses a chunk size line "HEX[;ext...]"; the extensions are ignored.
  static Parsed<std::uint64_t> parse_chunk_size(std::string_view line) {
    using Result = Parsed<std::uint64_t>;
    std::string_view digits = line.substr(0, line.find(';'));
    while (!digits.empty() && is_ows(digits.back())) digits.remove_suffix(1);
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(),
                                       [](char c) { return detail::hex_value(c) >= 0; })) {
      return Result::failure("chunk size line " + quote(line) +
                             " does not start with a hexadecimal size; expected e.g. \"1a\"");
    }
    std::uint64_t size = 0;
    for (const char c : digits) {
      if (size > std::numeric_limits<std::uint64_t>::max() >> 4) {
        return Result::failure("chunk size " + quote(digits) +
                               " overflows 64 bits; expected the chunk's size in hex");
      }
      size = size << 4 | static_cast<std::uint64_t>(detail::hex_value(c));
    }
    return {size, {}};
  }

  static std::string no_final_empty_line() {
    return "chunked body ends without the empty line after its last chunk; add an empty line";
  }

  /// Reads past the trailer section that starts at `start`, with the header section's limits;
  /// returns an error, or nothing when the section ends with its empty line.
  std::string skip_trailers(std::size_t start) const {
    std::size_t pos = start;
    for (std::size_t count = 0;; ++count) {
      if (pos == text_.size()) return where(pos, no_final_empty_line());
      const auto line = line_at(pos);
      if (!line) return line.error;
      if (!line->terminated) return where(pos, no_final_empty_line());
      if (line->content.empty()) return {};
      if (line->next - start > max_header_section_bytes || count == max_header_count) {
        return where(pos, "trailer section is longer than " +
                              std::to_string(max_header_section_bytes) + " bytes or " +
                              std::to_string(max_header_count) + " fields; shorten it");
      }
      pos = line->next;
    }
  }

  std::string_view text_;
  std::string_view input_;
};

/// True when the line at `start` reads like the start of an HTTP request: it names an HTTP
/// version, or begins with an upper-case method and a space. Other text is no capture at all.
bool looks_like_request_line(std::string_view text, std::size_t start) {
  std::string_view line = text.substr(start, max_line_bytes + 2);
  line = line.substr(0, line.find('\n'));
  if (line.find("HTTP/") != std::string_view::npos) return true;
  std::size_t i = 0;
  while (i < line.size() && line[i] >= 'A' && line[i] <= 'Z') ++i;
  return i > 0 && i < line.size() && is_ows(line[i]);
}

// ---- JSON formats ---------------------------------------------------------------------------

/// Names a JSON type with its article, for messages: "an object", "a number".
std::string describe(Json::value_t type) {
  switch (type) {
    case Json::value_t::string:
      return "a string";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return "a number";
    case Json::value_t::binary:
    case Json::value_t::discarded:
      return "a value";
  }
  return "a value";
}

/// Reads fields of a JSON document into checked values; each error names the field's path.
class JsonFields {
 public:
  explicit JsonFields(std::string_view input) : input_(input) {}

  std::string error(std::string_view path, std::string_view what) const {
    return std::string(input_) + ": " + std::string(path) + ": " + std::string(what);
  }

  /// Returns the member `key` of `object`, or an error when it is missing.
  Parsed<const Json*> member(const Json& object, std::string_view key, std::string_view path,
                             std::string_view how) const {
    const auto found = object.find(key);
    if (found == object.end()) {
      return Parsed<const Json*>::failure(error(path, "missing; " + std::string(how)));
    }
    return {&*found, {}};
  }

  Parsed<const Json*> typed(const Json& object, std::string_view key, std::string_view path,
                            Json::value_t type, std::string_view how) const {
    auto value = member(object, key, path, how);
    if (value && (*value)->type() != type) {
      return Parsed<const Json*>::failure(error(path, "expected " + describe(type) + ", got " +
                                                          describe((*value)->type()) + "; " +
                                                          std::string(how)));
    }
    return value;
  }

  Parsed<std::string> string(const Json& object, std::string_view key, std::string_view path,
                             std::string_view how) const {
    auto value = typed(object, key, path, Json::value_t::string, how);
    if (!value) return Parsed<std::string>::failure(std::move(value.error));
    return {(*value)->get_ref<const std::string&>(), {}};
  }

  Parsed<std::string> method(const Json& object, std::string_view key,
                             std::string_view path) const {
    auto method = string(object, key, path, "give the HTTP method as a string, e.g. \"POST\"");
    if (method && !is_token(*method)) {
      return Parsed<std::string>::failure(
          error(path, quote(*method) + " is not an HTTP method; expected a token, e.g. \"POST\""));
    }
    return method;
  }

  Parsed<std::string> target(std::string value, std::string_view path) const {
    if (!is_target(value)) {
      return Parsed<std::string>::failure(error(
          path, quote(value) + " is not a request target; expected visible ASCII, e.g. \"/hook\""));
    }
    return {std::move(value), {}};
  }

  Parsed<Header> header(std::string name, std::string value, std::string_view path) const {
    if (!is_token(name)) {
      return Parsed<Header>::failure(
          error(path, "header name " + quote(name) + " is not a token; remove separators"));
    }
    if (!is_field_value(value)) {
      return Parsed<Header>::failure(error(path, "header value has a NUL, CR or LF; remove it"));
    }
    return {Header{std::move(name), std::move(value)}, {}};
  }

 private:
  std::string_view input_;
};

/// Reads a tykhook JSON capture (format described at write_json_capture).
Parsed<Request> read_json_capture(const Json& document, std::string_view input) {
  using Result = Parsed<Request>;
  const JsonFields fields(input);
  const Json& marker = *document.find(capture_marker);
  if (!marker.is_number_integer() || marker.get<std::int64_t>() != capture_version) {
    const std::string got =
        marker.is_number_integer() ? "version " + marker.dump() : describe(marker.type());
    return Result::failure(fields.error(capture_marker, got + " is not supported; this tykhook "
                                                              "reads version 1"));
  }
  Request request;
  auto method = fields.method(document, "method", "method");
  if (!method) return Result::failure(std::move(method.error));
  request.method = std::move(*method);
  auto target_text =
      fields.string(document, "target", "target", "give the request target, e.g. \"/hook\"");
  if (!target_text) return Result::failure(std::move(target_text.error));
  auto target = fields.target(std::move(*target_text), "target");
  if (!target) return Result::failure(std::move(target.error));
  request.target = std::move(*target);

  const std::string headers_how = "give the headers as [[\"Name\", \"value\"], ...]";
  const auto headers =
      fields.typed(document, "headers", "headers", Json::value_t::array, headers_how);
  if (!headers) return Result::failure(headers.error);
  for (std::size_t i = 0; i < (*headers)->size(); ++i) {
    const Json& pair = (**headers)[i];
    const std::string path = "headers[" + std::to_string(i) + "]";
    if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string()) {
      return Result::failure(
          fields.error(path, "expected a [name, value] pair of strings; " + headers_how));
    }
    auto header = fields.header(pair[0].get<std::string>(), pair[1].get<std::string>(), path);
    if (!header) return Result::failure(std::move(header.error));
    request.headers.push_back(std::move(*header));
  }

  auto body = fields.string(document, "body_base64", "body_base64",
                            "give the body in standard base64, \"\" for an empty body");
  if (!body) return Result::failure(std::move(body.error));
  auto bytes = decode_base64(*body);
  if (!bytes) return Result::failure(fields.error("body_base64", bytes.error));
  request.body = std::move(*bytes);

  // "received" records when the request arrived; nothing depends on it, but a present one
  // must be a valid time so that the format stays one format.
  if (document.contains("received")) {
    auto received = fields.string(document, "received", "received",
                                  "give an RFC 3339 time, e.g. \"2024-04-24T15:26:04Z\"");
    if (!received) return Result::failure(std::move(received.error));
    if (auto time = parse_rfc3339(*received); !time) {
      return Result::failure(fields.error("received", time.error));
    }
  }
  return {std::move(request), {}};
}

/// Returns the path and query of a HAR request URL ("https://host/p?q#f" -> "/p?q"); an
/// absolute path is taken as it is.
std::optional<std::string> target_of_url(std::string_view url) {
  url = url.substr(0, url.find('#'));
  if (url.starts_with("/")) return std::string(url);
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) return std::nullopt;
  const auto path = url.find_first_of("/?", scheme_end + 3);
  if (path == std::string_view::npos) return std::string("/");
  if (url[path] == '?') return "/" + std::string(url.substr(path));
  return std::string(url.substr(path));
}

/// Reads log.entries[index].request of a HAR 1.2 file.
Parsed<Request> read_har_entry(const Json& entry, std::size_t index, std::string_view input) {
  using Result = Parsed<Request>;
  const JsonFields fields(input);
  const std::string path = "log.entries[" + std::to_string(index) + "]";
  if (!entry.is_object()) {
    return Result::failure(fields.error(path, std::string("expected an object, got ") +
                                                  describe(entry.type()) +
                                                  "; each entry is an object"));
  }
  const std::string at = path + ".request";
  const auto har_request =
      fields.typed(entry, "request", at, Json::value_t::object, "each entry needs its request");
  if (!har_request) return Result::failure(har_request.error);
  const Json& source = **har_request;

  Request request;
  auto method = fields.method(source, "method", at + ".method");
  if (!method) return Result::failure(std::move(method.error));
  request.method = std::move(*method);
  auto url = fields.string(source, "url", at + ".url", "give the request's URL");
  if (!url) return Result::failure(std::move(url.error));
  auto target = target_of_url(*url);
  if (!target) {
    return Result::failure(fields.error(
        at + ".url", quote(*url) + " is not an absolute URL; expected e.g. \"https://host/hook\""));
  }
  auto checked_target = fields.target(std::move(*target), at + ".url");
  if (!checked_target) return Result::failure(std::move(checked_target.error));
  request.target = std::move(*checked_target);

  const std::string headers_how = "give the headers as [{\"name\": ..., \"value\": ...}, ...]";
  const auto headers =
      fields.typed(source, "headers", at + ".headers", Json::value_t::array, headers_how);
  if (!headers) return Result::failure(headers.error);
  for (std::size_t i = 0; i < (*headers)->size(); ++i) {
    const Json& pair = (**headers)[i];
    const std::string header_path = at + ".headers[" + std::to_string(i) + "]";
    if (!pair.is_object()) {
      return Result::failure(fields.error(header_path, "expected an object; " + headers_how));
    }
    auto name = fields.string(pair, "name", header_path + ".name", headers_how);
    if (!name) return Result::failure(std::move(name.error));
    auto value = fields.string(pair, "value", header_path + ".value", headers_how);
    if (!value) return Result::failure(std::move(value.error));
    // HTTP/2 pseudo-headers (":path", ":authority") are not header fields of the request.
    if (name->starts_with(":")) continue;
    auto header = fields.header(std::move(*name), std::move(*value), header_path);
    if (!header) return Result::failure(std::move(header.error));
    request.headers.push_back(std::move(*header));
  }

  // DESIGN.md, "CLI contract": an entry without postData has an empty body.
  if (source.contains("postData")) {
    const std::string post = at + ".postData";
    const auto post_data =
        fields.typed(source, "postData", post, Json::value_t::object, "give the body as an object");
    if (!post_data) return Result::failure(post_data.error);
    auto text = fields.string(**post_data, "text", post + ".text", "give the body as a string");
    if (!text) return Result::failure(std::move(text.error));
    std::string encoding;
    if ((*post_data)->contains("encoding")) {
      auto given = fields.string(**post_data, "encoding", post + ".encoding",
                                 "leave it out, or give \"base64\"");
      if (!given) return Result::failure(std::move(given.error));
      encoding = std::move(*given);
    }
    if (encoding == "base64") {
      auto bytes = decode_base64(*text);
      if (!bytes) return Result::failure(fields.error(post + ".text", bytes.error));
      request.body = std::move(*bytes);
    } else if (encoding.empty()) {
      request.body = std::move(*text);
    } else {
      return Result::failure(fields.error(post + ".encoding", quote(encoding) +
                                                                  " is not supported; expected "
                                                                  "\"base64\" or no encoding"));
    }
  }
  return {std::move(request), {}};
}

/// Reads a HAR 1.2 file: one capture per entry of log.entries, named "<input>#N".
std::vector<Capture> read_har(const Json& document, std::string_view input) {
  const JsonFields fields(input);
  const auto whole = [&](std::string message) {
    return std::vector<Capture>{{std::string(input), Parsed<Request>::failure(std::move(message))}};
  };
  const auto log = fields.typed(document, "log", "log", Json::value_t::object,
                                "a HAR file holds {\"log\": {\"entries\": [...]}}");
  if (!log) return whole(log.error);
  const auto entries = fields.typed(**log, "entries", "log.entries", Json::value_t::array,
                                    "a HAR file lists its requests in log.entries");
  if (!entries) return whole(entries.error);
  if ((*entries)->empty()) {
    return whole(fields.error("log.entries",
                              "no entries; export a HAR file with at least one "
                              "request"));
  }
  std::vector<Capture> captures;
  captures.reserve((*entries)->size());
  for (std::size_t i = 0; i < (*entries)->size(); ++i) {
    const std::string name = std::string(input) + "#" + std::to_string(i);
    captures.push_back({name, read_har_entry((**entries)[i], i, name)});
  }
  return captures;
}

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
  if (document->contains(capture_marker)) return one(read_json_capture(*document, input));
  if (document->contains("Event")) return one(bare_body(text));
  if (document->contains("log")) return read_har(*document, input);
  return one(Parsed<Request>::failure(
      std::string(input) + ": not a capture: a JSON object without \"" +
      std::string(capture_marker) + "\", \"log\" or \"Event\"; " + std::string(expected_formats)));
}

/// Makes a value safe for one line of a raw request: RFC 9110, section 5.5 lets a sender
/// replace NUL, CR and LF with SP.
std::string one_line(std::string_view text) {
  std::string out(text);
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '\0' || c == '\r' || c == '\n'; }, ' ');
  return out;
}

/// JSON string of `text`; invalid UTF-8 becomes U+FFFD rather than an exception.
std::string json_string(std::string_view text) {
  return Json(std::string(text)).dump(-1, ' ', false, Json::error_handler_t::replace);
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
  if (looks_like_request_line(text, start)) {
    return {{std::string(input), RawHttpReader(text, input).read(start)}};
  }
  return {{std::string(input),
           Parsed<Request>::failure(where + "not a capture; " + std::string(expected_formats))}};
}

// The tykhook JSON capture, version 1: one object with, in this order, "tykhook_capture": 1,
// "received" (RFC 3339), "method", "target", "headers" as [name, value] pairs in arrival
// order, and "body_base64" (standard base64 with padding). Each member gets its own line and
// each header pair too, so that a capture reads well in a text editor. The reader requires
// all but "received" and ignores members it does not know. The body is exact; header bytes
// that are not UTF-8 (legal in HTTP, not in JSON) are written as U+FFFD.
std::string write_json_capture(const Request& request, TimePoint received) {
  std::string out = "{\n";
  out += "  \"" + std::string(capture_marker) + "\": " + std::to_string(capture_version) + ",\n";
  out += "  \"received\": " + json_string(format_rfc3339(received)) + ",\n";
  out += "  \"method\": " + json_string(request.method) + ",\n";
  out += "  \"target\": " + json_string(request.target) + ",\n";
  out += "  \"headers\": [";
  for (std::size_t i = 0; i < request.headers.size(); ++i) {
    out += i == 0 ? "\n" : ",\n";
    out += "    [" + json_string(request.headers[i].name) + ", " +
           json_string(request.headers[i].value) + "]";
  }
  out += request.headers.empty() ? "],\n" : "\n  ],\n";
  out += "  \"body_base64\": \"" + encode_base64(request.body) + "\"\n";
  out += "}\n";
  return out;
}

std::string write_raw_capture(const Request& request) {
  std::string out = one_line(request.method) + " " + one_line(request.target) + " HTTP/1.1\r\n";
  for (const auto& header : request.headers) {
    // The body below is written whole: any framing the request arrived with no longer holds.
    if (header_name_equals(header.name, "Content-Length") ||
        header_name_equals(header.name, "Transfer-Encoding")) {
      continue;
    }
    out += one_line(header.name) + ": " + one_line(header.value) + "\r\n";
  }
  out += "Content-Length: " + std::to_string(request.body.size()) + "\r\n\r\n";
  out += request.body;
  return out;
}

}  // namespace tykhook
