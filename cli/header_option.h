#pragma once

#include <optional>
#include <string_view>

#include "tykhook/request.h"

namespace tykhook::cli {

/// Parses the "NAME: VALUE" of `listen --require-header` and `send --header`: NAME an HTTP token
/// (RFC 9110, section 5.6.2), VALUE not empty and without CR or LF, white space around it
/// ignored. Returns nullopt for anything else.
[[nodiscard]] std::optional<Header> parse_header_option(std::string_view text);

}  // namespace tykhook::cli
