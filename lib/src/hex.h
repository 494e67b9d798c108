#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace tykhook::detail {

/// Returns `bytes` as lower-case hex, two digits per byte.
inline std::string to_hex(std::span<const unsigned char> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex(bytes.size() * 2, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    hex[2 * i] = digits[bytes[i] >> 4];
    hex[2 * i + 1] = digits[bytes[i] & 0x0f];
  }
  return hex;
}

}  // namespace tykhook::detail
