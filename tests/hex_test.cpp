#include "hex.h"

#include <doctest/doctest.h>

#include <array>
#include <string>
#include <string_view>

namespace {

using tykhook::detail::hex_value;
using tykhook::detail::to_hex;

TEST_CASE("a hex digit has its value in either case, and every other byte is -1") {
  const std::string_view lower = "0123456789abcdef";
  const std::string_view upper = "0123456789ABCDEF";
  for (int byte = 0; byte < 256; ++byte) {
    const char c = static_cast<char>(byte);
    CAPTURE(byte);
    const auto in_lower = lower.find(c);
    const auto in_upper = upper.find(c);
    const int want = byte == 0                            ? -1
                     : in_lower != std::string_view::npos ? static_cast<int>(in_lower)
                     : in_upper != std::string_view::npos ? static_cast<int>(in_upper)
                                                          : -1;
    CHECK(hex_value(c) == want);
  }
  const struct {
    std::string_view name;
    char c;
  } not_digits[] = {{"g", 'g'},
                    {"G", 'G'},
                    {"x", 'x'},
                    {"space", ' '},
                    {"NUL", '\0'},
                    {"'/' before '0'", '/'},
                    {"':' after '9'", ':'},
                    {"'@' before 'A'", '@'},
                    {"'`' before 'a'", '`'},
                    {"0xB0", '\xB0'}};
  for (const auto& c : not_digits) {
    CAPTURE(c.name);
    CHECK(hex_value(c.c) == -1);
  }
}

TEST_CASE("bytes become two lower-case hex digits each") {
  const std::array<unsigned char, 5> bytes = {0x00, 0x0f, 0xa0, 0x7f, 0xff};
  CHECK(to_hex(bytes) == "000fa07fff");
  CHECK(to_hex({}).empty());
  std::array<unsigned char, 256> every{};
  for (std::size_t i = 0; i < every.size(); ++i) every[i] = static_cast<unsigned char>(i);
  const std::string hex = to_hex(every);
  REQUIRE(hex.size() == 512);
  for (std::size_t i = 0; i < every.size(); ++i) {
    CAPTURE(i);
    CHECK(hex_value(hex[2 * i]) * 16 + hex_value(hex[2 * i + 1]) == static_cast<int>(i));
  }
}

}  // namespace
