#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>

namespace tykhook::detail {

/// The lower-case hex digits, indexed by their value.
inline constexpr char hex_digits[] = "0123456789abcdef";
/// The upper-case ones, for percent-encoding (RFC 3986, section 2.1 recommends them).
inline constexpr char upper_hex_digits[] = "0123456789ABCDEF";

/// Each byte's value as a hex digit (either case), or -1. A table: every delivery's signature
/// header has 64 digits.
inline constexpr std::array<signed char, 256> hex_digit_values = [] {
  std::array<signed char, 256> values{};
  for (signed char& value : values) value = -1;
  for (int c = 0; c < 10; ++c) values['0' + c] = static_cast<signed char>(c);
  for (int c = 0; c < 6; ++c) {
    values['a' + c] = static_cast<signed char>(10 + c);
    values['A' + c] = static_cast<signed char>(10 + c);
  }
  return values;
}();

/// Returns the value of the hex digit `c` (0-9, a-f, A-F), or -1 for any other byte.
constexpr int hex_value(char c) { return hex_digit_values[static_cast<unsigned char>(c)]; }

/// Returns `bytes` as lower-case hex, two digits per byte.
inline std::string to_hex(std::span<const unsigned char> bytes) {
  std::string hex(bytes.size() * 2, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    hex[2 * i] = hex_digits[bytes[i] >> 4];
    hex[2 * i + 1] = hex_digits[bytes[i] & 0x0f];
  }
  return hex;
}

}  // namespace tykhook::detail
