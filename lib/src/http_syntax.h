#pragma once

// Private to the library: the pieces of HTTP/1.1 syntax that every reader of a request shares
// (the captures, the receiver's head parser and the receiver), so that each reads a token, a
// Content-Length and white space the same way. Header names compare with header_name_equals
// (tykhook/request.h), which integrators call too.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace tykhook::detail {

/// True for a tchar of RFC 9110, section 5.6.2: an ASCII letter or digit, or one of
/// !#$%&'*+-.^_`|~.
constexpr bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != '\0' && std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

/// True for an HTTP token (a method, a header name, a transfer coding): one or more tchars.
[[nodiscard]] constexpr bool is_token(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), is_tchar);
}

/// True for optional white space (OWS, RFC 9110, section 5.6.3): a space or a tab.
constexpr bool is_ows(char c) { return c == ' ' || c == '\t'; }

/// `text` without the optional white space (spaces and tabs) at its ends.
[[nodiscard]] constexpr std::string_view trim(std::string_view text) {
  while (!text.empty() && is_ows(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_ows(text.back())) text.remove_suffix(1);
  return text;
}

/// True for one or more decimal digits and nothing else: no sign, no white space.
[[nodiscard]] constexpr bool is_decimal(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// Reads a Content-Length value (RFC 9110, section 8.6): decimal digits, leading zeros allowed.
/// Returns nullopt for anything else and for a value over 64 bits; is_decimal tells which.
[[nodiscard]] constexpr std::optional<std::uint64_t> parse_content_length(std::string_view value) {
  if (!is_decimal(value)) return std::nullopt;
  constexpr auto max = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t length = 0;
  for (const char c : value) {
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (length > (max - digit) / 10) return std::nullopt;
    length = length * 10 + digit;
  }
  return length;
}

/// True for a request target as a capture may hold it: visible ASCII without white space
/// (RFC 9112, section 3.2).
[[nodiscard]] constexpr bool is_target(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
  });
}

/// True for a field value without NUL, CR or LF, the bytes RFC 9110, section 5.5 forbids.
[[nodiscard]] constexpr bool is_field_value(std::string_view text) {
  return text.find_first_of(std::string_view("\0\r\n", 3)) == std::string_view::npos;
}

}  // namespace tykhook::detail
