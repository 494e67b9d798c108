#include "request_head.h"

#include <algorithm>

#include "json_error_text.h"

namespace tykhook::detail {
namespace {

bool plain_target(std::string_view target) {
  return !target.empty() && target.front() == '/' && target.size() <= 2048 &&
         std::all_of(target.begin(), target.end(), [](char c) {
           const auto byte = static_cast<unsigned char>(c);
           return byte > 0x20 && byte < 0x7f && c != '%' && c != '#';
         });
}

}  // namespace

std::vector<std::string_view> Head::values(std::string_view name) const {
  std::vector<std::string_view> found;
  for (const auto& header : headers) {
    if (header_name_equals(header.name, name)) found.push_back(header.value);
  }
  return found;
}

bool is_delivery_method(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

std::string quote(std::string_view text) { return quote_bytes(text, 64); }

Parsed<Head> parse_head(std::string_view bytes) {
  Head head;
  std::size_t line_number = 0;
  while (!bytes.empty()) {
    ++line_number;
    const auto end = bytes.find('\n');
    const std::string where =
        line_number == 1 ? "request line" : "header line " + std::to_string(line_number - 1);
    if (end == std::string_view::npos || end == 0 || bytes[end - 1] != '\r') {
      return Parsed<Head>::failure(where + ": does not end with CRLF; end every line with CRLF");
    }
    const std::string_view line = bytes.substr(0, end - 1);
    bytes.remove_prefix(end + 1);
    if (line_number == 1) {
      // Three words, one space apart: a method (a token), a target and a version.
      const auto first = line.find(' ');
      const auto last = line.rfind(' ');
      if (first == std::string_view::npos || first == last || first + 1 == last ||
          last + 1 == line.size() || !is_token(line.substr(0, first)) ||
          line.substr(first + 1, last - first - 1).find(' ') != std::string_view::npos) {
        return Parsed<Head>::failure(where + ": expected \"METHOD TARGET HTTP/1.1\"");
      }
      head.method = std::string(line.substr(0, first));
      head.target = std::string(line.substr(first + 1, last - first - 1));
      continue;
    }
    if (line.empty()) return {std::move(head), {}};
    if (is_ows(line.front())) {
      return Parsed<Head>::failure(where +
                                   ": starts with white space (obsolete line folding); "
                                   "send each header on one line");
    }
    const auto colon = line.find(':');
    const std::string_view name = line.substr(0, colon);
    if (colon == std::string_view::npos || !is_token(name)) {
      return Parsed<Head>::failure(where + ": " + quote(name) +
                                   " is not a header name; expected \"Name: value\"");
    }
    const std::string_view value = trim(line.substr(colon + 1));
    if (std::any_of(value.begin(), value.end(), [](char c) {
          const auto byte = static_cast<unsigned char>(c);
          return (byte < 0x20 && c != '\t') || byte == 0x7f;
        })) {
      return Parsed<Head>::failure(where + ": the value of " + quote(name) +
                                   " has a control character; remove it");
    }
    head.headers.push_back({std::string(name), std::string(value)});
  }
  return Parsed<Head>::failure("headers: no blank line after them; end the headers with CRLF");
}

std::optional<PlainDelivery> plain_delivery(std::string_view bytes, std::size_t max_header_bytes,
                                            std::size_t max_headers) {
  const std::size_t blank_line = bytes.find("\r\n\r\n");
  if (blank_line == std::string_view::npos) return std::nullopt;
  const std::size_t head_size = blank_line + 4;
  const std::string_view head_text = bytes.substr(0, head_size);
  if (head_size > max_header_bytes ||
      static_cast<std::size_t>(std::count(head_text.begin(), head_text.end(), '\n')) >
          max_headers + 2 ||
      !head_text.substr(0, head_text.find("\r\n")).ends_with(" HTTP/1.1")) {
    return std::nullopt;
  }
  Parsed<Head> parsed = parse_head(head_text);
  if (!parsed || !is_delivery_method(parsed->method) || !plain_target(parsed->target)) {
    return std::nullopt;
  }
  std::optional<std::string_view> length;
  for (const Header& header : parsed->headers) {
    for (const std::string_view name : {"Transfer-Encoding", "Expect", "Connection", "Range",
                                        "Accept-Encoding", "Content-Encoding"}) {
      if (header_name_equals(header.name, name)) return std::nullopt;
    }
    if (header_name_equals(header.name, "Content-Length")) {
      if (length) return std::nullopt;
      length = header.value;
    }
  }
  if (!length || length->size() > 18) return std::nullopt;
  const auto body_size = parse_content_length(*length);
  if (!body_size || *body_size > bytes.size() - head_size) return std::nullopt;
  return PlainDelivery{head_size, static_cast<std::size_t>(*body_size), std::move(*parsed)};
}

}  // namespace tykhook::detail
