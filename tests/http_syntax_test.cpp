#include "http_syntax.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace {

using tykhook::detail::is_decimal;
using tykhook::detail::is_field_value;
using tykhook::detail::is_target;
using tykhook::detail::is_token;
using tykhook::detail::parse_content_length;
using tykhook::detail::trim;

TEST_CASE("a token is one or more tchars of RFC 9110, and nothing else") {
  const struct {
    std::string_view name;
    std::string text;
    bool want;
  } cases[] = {
      {"a method", "POST", true},
      {"a header name with a hyphen", "X-Signature-SHA256", true},
      {"every special tchar", "!#$%&'*+-.^_`|~", true},
      {"one letter", "a", true},
      {"digits only", "0123456789", true},
      {"empty", "", false},
      {"a space inside", "X Signature", false},
      {"a tab at the end", "Host\t", false},
      {"a colon", "Host:", false},
      {"a NUL", std::string("Ho\0st", 5), false},
      {"a quote", "\"Host\"", false},
      {"each separator of RFC 9110", "(),/:;<=>?@[\\]{}", false},
      {"a byte outside ASCII", "H\xC3\xB6st", false},
      {"DEL", "Host\x7F", false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(is_token(c.text) == c.want);
  }
  for (int byte = 0; byte < 256; ++byte) {
    const char c = static_cast<char>(byte);
    CAPTURE(byte);
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    const bool special =
        byte != 0 && std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    CHECK(tykhook::detail::is_tchar(c) == (alnum || special));
  }
}

TEST_CASE("trim removes spaces and tabs at both ends, and only those") {
  const struct {
    std::string_view name;
    std::string_view text;
    std::string_view want;
  } cases[] = {
      {"nothing to trim", "value", "value"},
      {"spaces and tabs at both ends", " \t value \t ", "value"},
      {"white space inside stays", " a b ", "a b"},
      {"only white space", " \t ", ""},
      {"empty", "", ""},
      {"CR is not optional white space", "\rvalue\r", "\rvalue\r"},
      {"LF is not optional white space", "\nvalue", "\nvalue"},
      {"a vertical tab stays", "\vvalue", "\vvalue"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(trim(c.text) == c.want);
  }
}

TEST_CASE("a Content-Length is decimal digits that fit 64 bits, leading zeros allowed") {
  const struct {
    std::string_view name;
    std::string_view text;
    std::optional<std::uint64_t> want;
    bool decimal;
  } cases[] = {
      {"zero", "0", 0, true},
      {"a size", "42", 42, true},
      {"leading zeros", "0042", 42, true},
      {"many leading zeros", "000000000000000000000000001", 1, true},
      {"the largest 64-bit value", "18446744073709551615", UINT64_MAX, true},
      {"one over 64 bits", "18446744073709551616", std::nullopt, true},
      {"far over 64 bits", "99999999999999999999999", std::nullopt, true},
      {"empty", "", std::nullopt, false},
      {"a plus sign", "+42", std::nullopt, false},
      {"a minus sign", "-1", std::nullopt, false},
      {"a leading space", " 42", std::nullopt, false},
      {"a trailing tab", "42\t", std::nullopt, false},
      {"a list", "2, 2", std::nullopt, false},
      {"hexadecimal", "0x2a", std::nullopt, false},
      {"a fraction", "4.2", std::nullopt, false},
      {"a word", "ten", std::nullopt, false},
      {"a NUL after the digits", std::string_view("42\0", 3), std::nullopt, false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(parse_content_length(c.text) == c.want);
    CHECK(is_decimal(c.text) == c.decimal);
  }
}

TEST_CASE("a capture's target is visible ASCII and its field values have no NUL, CR or LF") {
  CHECK(is_target("/hook?a=1&b=%20"));
  CHECK(is_target("*"));
  CHECK_FALSE(is_target(""));
  CHECK_FALSE(is_target("/a b"));
  CHECK_FALSE(is_target("/a\tb"));
  CHECK_FALSE(is_target("/\x7F"));
  CHECK_FALSE(is_target("/\xC3\xA9"));

  CHECK(is_field_value(""));
  CHECK(is_field_value("a value\twith tabs and \x7F and \xC3\xA9"));
  CHECK_FALSE(is_field_value(std::string_view("a\0b", 3)));
  CHECK_FALSE(is_field_value("a\rb"));
  CHECK_FALSE(is_field_value("a\nb"));
}

}  // namespace
