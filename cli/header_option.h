#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tykhook/request.h"

namespace tykhook::cli {

/// Parses the "NAME: VALUE" of `listen --require-header` and `send --header`: NAME an HTTP token
/// (RFC 9110, section 5.6.2), VALUE not empty and without NUL, CR or LF, white space around it
/// ignored. Returns nullopt for anything else.
[[nodiscard]] std::optional<Header> parse_header_option(std::string_view text);

/// Says why parse_header_option refused `text`, naming the header when its name is valid and
/// never showing the value (a credential, often).
[[nodiscard]] std::string header_option_error(std::string_view text);

}  // namespace tykhook::cli
