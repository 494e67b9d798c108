#pragma once

// Private to the library: the SHA-256 of a whole byte string, for every part of the library
// that needs one (the idempotency key, the HMAC key longer than a block, the receiver's
// comparison of a required header).

#include <string>
#include <string_view>

#include "tykhook/signature.h"

namespace tykhook::detail {

/// Returns the SHA-256 digest of `bytes`. Throws Error(`failure`) when the crypto library
/// fails, so that each caller keeps its own message.
[[nodiscard]] Digest sha256(std::string_view bytes, std::string_view failure);

/// Returns the SHA-256 of `bytes` as 64 lower-case hex digits; throws as sha256 does.
[[nodiscard]] std::string sha256_hex(std::string_view bytes, std::string_view failure);

}  // namespace tykhook::detail
