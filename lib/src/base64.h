#pragma once

// Private to the library: base64 as the tykhook JSON capture and HAR files hold a body
// (RFC 4648, section 4: the standard alphabet, with padding). OpenSSL does the coding; this
// adds the strictness a capture format needs.

#include <string>
#include <string_view>

#include "tykhook/error.h"

namespace tykhook::detail {

/// Returns `bytes` in standard base64 with padding.
[[nodiscard]] std::string encode_base64(std::string_view bytes);

/// Decodes strict standard base64: padded to a multiple of 4, no white space, and the unused
/// bits of the last group zero, so that each byte string has exactly one accepted encoding.
/// The error names the first wrong character or group, e.g. `character 3 "!" is not base64; ...`.
[[nodiscard]] Parsed<std::string> decode_base64(std::string_view text);

}  // namespace tykhook::detail
