#include "header_option.h"

#include <string>

#include "http_syntax.h"

namespace tykhook::cli {

std::optional<Header> parse_header_option(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view name = text.substr(0, colon);
  if (!detail::is_token(name)) return std::nullopt;
  const std::string_view value = detail::trim(text.substr(colon + 1));
  // A line break would end the header on the wire and start another one.
  if (value.empty() || !detail::is_field_value(value)) return std::nullopt;
  return Header{std::string(name), std::string(value)};
}

std::string header_option_error(std::string_view text) {
  constexpr std::string_view example = "; give \"NAME: VALUE\", e.g. \"X-Portal-Token: s3cr3t\"";
  const auto colon = text.find(':');
  // The value may be a credential: the message shows the name only, and only when it is one.
  if (colon == std::string_view::npos) {
    return "no colon (what was given is not shown, in case it holds a credential)" +
           std::string(example);
  }
  const std::string_view name = text.substr(0, colon);
  if (!detail::is_token(name)) {
    return "the part before the colon is not a header name (no spaces or separators; it is not "
           "shown, in case it holds a credential)" +
           std::string(example);
  }
  const std::string_view value = detail::trim(text.substr(colon + 1));
  if (value.empty()) return std::string(name) + ": the value is empty" + std::string(example);
  return std::string(name) +
         ": the value has a line break or a NUL byte, which would end the header on the wire";
}

}  // namespace tykhook::cli
