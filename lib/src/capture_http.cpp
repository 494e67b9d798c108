#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "capture_formats.h"
#include "hex.h"
#include "http_syntax.h"
#include "tykhook/capture.h"

// A raw HTTP/1.x request as a capture (RFC 9112): read by read_raw_http, written by
// write_raw_capture.

namespace tykhook::detail {
namespace {

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
    const std::string quoted = "request line " + quote_input(line);
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
      return Result::failure("HTTP version " + quote_input(version) +
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
      return Parsed<Header>::failure("header line " + quote_input(line) +
                                     " has no colon; expected \"Name: value\"");
    }
    const std::string_view name = line.substr(0, colon);
    if (!is_token(name)) {
      return Parsed<Header>::failure("header name " + quote_input(name) +
                                     " is not a token; remove white space and separators "
                                     "before the colon");
    }
    const std::string_view value = detail::trim(line.substr(colon + 1));
    if (!is_field_value(value)) {
      return Parsed<Header>::failure("header " + quote_input(name) +
                                     " has a NUL or a bare CR in its value; remove it");
    }
    return {Header{std::string(name), std::string(value)}, {}};
  }

  /// Parses a Content-Length value: decimal digits only (RFC 9110, section 8.6).
  static Parsed<std::uint64_t> parse_content_length(std::string_view value) {
    using Result = Parsed<std::uint64_t>;
    if (const auto length = detail::parse_content_length(value)) return {*length, {}};
    if (!detail::is_decimal(value)) {
      return Result::failure("Content-Length " + quote_input(value) +
                             " is not a decimal number; expected digits only, e.g. "
                             "Content-Length: 42");
    }
    return Result::failure("Content-Length " + quote_input(value) +
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
    return "Transfer-Encoding " + quote_input(codings) +
           " is not supported; expected chunked alone";
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
      return Result::failure("chunk size line " + quote_input(line) +
                             " does not start with a hexadecimal size; expected e.g. \"1a\"");
    }
    std::uint64_t size = 0;
    for (const char c : digits) {
      if (size > std::numeric_limits<std::uint64_t>::max() >> 4) {
        return Result::failure("chunk size " + quote_input(digits) +
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

}  // namespace

bool looks_like_request_line(std::string_view text, std::size_t start) {
  std::string_view line = text.substr(start, max_line_bytes + 2);
  line = line.substr(0, line.find('\n'));
  if (line.find("HTTP/") != std::string_view::npos) return true;
  std::size_t i = 0;
  while (i < line.size() && line[i] >= 'A' && line[i] <= 'Z') ++i;
  return i > 0 && i < line.size() && is_ows(line[i]);
}

Parsed<Request> read_raw_http(std::string_view text, std::size_t start, std::string_view input) {
  return RawHttpReader(text, input).read(start);
}

}  // namespace tykhook::detail

namespace tykhook {
namespace {

/// Makes a value safe for one line of a raw request: RFC 9110, section 5.5 lets a sender
/// replace NUL, CR and LF with SP.
std::string one_line(std::string_view text) {
  std::string out(text);
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '\0' || c == '\r' || c == '\n'; }, ' ');
  return out;
}

}  // namespace

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
