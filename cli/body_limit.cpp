#include "body_limit.h"

#include <cstdint>
#include <limits>

namespace tykhook::cli {

std::optional<std::size_t> parse_body_limit(std::string_view text, std::string* error) {
  const auto fail = [&](std::string what) -> std::optional<std::size_t> {
    if (error != nullptr) {
      *error = "\"" + std::string(text.substr(0, 32)) + "\": " + what +
               "; give 1 byte to 256M, e.g. 1048576, 512K or 1M";
    }
    return std::nullopt;
  };
  std::size_t digits = 0;
  std::uint64_t number = 0;
  for (; digits < text.size() && text[digits] >= '0' && text[digits] <= '9'; ++digits) {
    if (number > largest_body_limit) continue;  // already too large; keep reading the digits
    number = number * 10 + static_cast<std::uint64_t>(text[digits] - '0');
  }
  if (digits == 0) return fail("not a byte count");
  const std::string_view unit = text.substr(digits);
  std::uint64_t scale = 1;
  if (unit == "K" || unit == "KiB") {
    scale = 1024;
  } else if (unit == "M" || unit == "MiB") {
    scale = 1024 * 1024;
  } else if (unit == "G" || unit == "GiB") {
    scale = 1024 * 1024 * 1024;
  } else if (!unit.empty() && unit != "B") {
    return fail("unknown unit \"" + std::string(unit.substr(0, 8)) + "\" (K, M or G)");
  }
  if (number == 0) return fail("a limit of 0 accepts no delivery");
  if (number > largest_body_limit / scale) return fail("over the largest limit");
  return static_cast<std::size_t>(number * scale);
}

void add_body_limit_option(CLI::App& command, std::size_t& limit, std::string_view larger) {
  command
      .add_option_function<std::string>(
          "--max-body", [&limit](const std::string& text) { limit = *parse_body_limit(text); },
          "Largest body accepted, e.g. 1M or 512K (default: 1M = 1048576 bytes)" +
              std::string(larger))
      ->type_name("BYTES")
      ->check(CLI::Validator(
          [](const std::string& text) {
            std::string error;
            return parse_body_limit(text, &error) ? std::string() : error;
          },
          ""));
}

}  // namespace tykhook::cli
