#include "base64.h"

#include <doctest/doctest.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace {

using tykhook::detail::decode_base64;
using tykhook::detail::encode_base64;

TEST_CASE("base64 encodes and decodes the test vectors of RFC 4648, section 10") {
  const struct {
    std::string_view bytes;
    std::string_view text;
  } cases[] = {{"", ""},
               {"f", "Zg=="},
               {"fo", "Zm8="},
               {"foo", "Zm9v"},
               {"foob", "Zm9vYg=="},
               {"fooba", "Zm9vYmE="},
               {"foobar", "Zm9vYmFy"},
               {std::string_view("\0", 1), "AA=="},
               {"\xff\xfe", "//4="},
               {"\xfb\xff", "+/8="}};
  for (const auto& c : cases) {
    CAPTURE(c.text);
    CHECK(encode_base64(c.bytes) == c.text);
    const auto decoded = decode_base64(c.text);
    REQUIRE(decoded.ok());
    CHECK(*decoded == c.bytes);
  }
}

TEST_CASE("base64 keeps every byte, and long input that OpenSSL takes in pieces") {
  std::string bytes;
  for (int byte = 0; byte < 256; ++byte) bytes += static_cast<char>(byte);
  const auto decoded = decode_base64(encode_base64(bytes));
  REQUIRE(decoded.ok());
  CHECK(*decoded == bytes);

  // Past the 3 MiB piece of encode_base64 and the 4 Mi characters of decode_base64, with a
  // padded end.
  std::string long_bytes;
  while (long_bytes.size() < 3 * (std::size_t{1} << 20) + 1) long_bytes += bytes;
  const std::string text = encode_base64(long_bytes);
  CHECK(text.size() == (long_bytes.size() + 2) / 3 * 4);
  CHECK(text.find('\0') == std::string::npos);
  const auto long_decoded = decode_base64(text);
  REQUIRE(long_decoded.ok());
  CHECK(*long_decoded == long_bytes);
}

TEST_CASE("base64 refuses anything but one canonical padded encoding, and says where") {
  const std::string not_base64 =
      " is not base64; use the standard alphabet A-Z a-z 0-9 + / with = padding at the end only";
  const struct {
    std::string_view name;
    std::string text;
    std::string want;
  } cases[] = {
      {"no padding", "Zg",
       "has 2 characters, not a multiple of 4; use standard base64 with = "
       "padding"},
      {"one character", "=",
       "has 1 characters, not a multiple of 4; use standard base64 with = "
       "padding"},
      {"a line end after the padding", "Zg==\n",
       "has 5 characters, not a multiple of 4; use standard base64 with = padding"},
      {"line ends after the padding, filling a group", "Zg==\r\n\r\n",
       "character 3 \"=\"" + not_base64},
      {"a leading space", " Zg=", "character 1 \" \"" + not_base64},
      {"a space inside", "Zm9v Zm8", "character 5 \" \"" + not_base64},
      {"a tab", "Zm9\tv===", "character 4 \"\\x09\"" + not_base64},
      {"a NUL", std::string("Zm\0v", 4), "character 3 \"\\x00\"" + not_base64},
      {"a byte outside ASCII", "Zm\xC3\xA9", "character 3 \"\\xc3\"" + not_base64},
      {"padding in the middle", "Zg==Zm8=", "character 3 \"=\"" + not_base64},
      {"three padding characters", "Z===", "character 2 \"=\"" + not_base64},
      {"only padding", "====", "character 1 \"=\"" + not_base64},
      {"padding before the last character", "Zm=v", "character 3 \"=\"" + not_base64},
      {"the URL-safe alphabet", "-_-_", "character 1 \"-\"" + not_base64},
      {"non-zero bits under two padding characters", "Zh==",
       "the last group \"Zh==\" has non-zero padding bits; re-encode the bytes with a standard "
       "base64 encoder"},
      {"non-zero bits under one padding character", "Zm9=",
       "the last group \"Zm9=\" has non-zero padding bits; re-encode the bytes with a standard "
       "base64 encoder"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto decoded = decode_base64(c.text);
    CHECK_FALSE(decoded.ok());
    CHECK(decoded.error == c.want);
  }
}

}  // namespace
