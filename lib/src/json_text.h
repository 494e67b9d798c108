#pragma once

// Private to the library and the CLI: writing a JSON string without a JSON library, for the
// answers and output lines that are written once per delivery.

#include <algorithm>
#include <string_view>

namespace tykhook::detail {

/// True when `text` is the same inside a JSON string as it is: visible ASCII, no quote or
/// backslash, so it can be written between quotes as it is.
[[nodiscard]] inline bool plain_json_text(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
}

}  // namespace tykhook::detail
