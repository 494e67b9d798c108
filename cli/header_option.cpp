#include "header_option.h"

#include <string>

namespace tykhook::cli {

std::optional<Header> parse_header_option(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  const std::string_view name = text.substr(0, colon);
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f ||
        std::string_view("\"(),/:;<=>?@[\\]{}").find(c) != std::string_view::npos) {
      return std::nullopt;
    }
  }
  std::string_view value = text.substr(colon + 1);
  const auto first = value.find_first_not_of(" \t");
  if (first == std::string_view::npos) return std::nullopt;
  value = value.substr(first, value.find_last_not_of(" \t") + 1 - first);
  // A line break would end the header on the wire and start another one.
  if (value.find_first_of("\r\n") != std::string_view::npos) return std::nullopt;
  return Header{std::string(name), std::string(value)};
}

}  // namespace tykhook::cli
