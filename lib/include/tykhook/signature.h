#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tykhook/error.h"

namespace tykhook {

/// The name of the header that carries the portal's signature.
inline constexpr std::string_view signature_header = "X-Signature-SHA256";

/// A raw HMAC-SHA256 digest.
using Digest = std::array<unsigned char, 32>;

/// A webhook secret. Never printed: it has no operator<< and appears in no message.
class Secret {
 public:
  /// Takes the secret's bytes; throws std::invalid_argument when they are empty.
  explicit Secret(std::string bytes);
  /// The secret's bytes, for the HMAC key.
  std::string_view bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

/// Returns the lower-case hex HMAC-SHA256 of `body` keyed with `secret`.
[[nodiscard]] std::string sign(std::string_view secret, std::string_view body);

/// A short fingerprint of `secret`, so that two systems (the portal's admin and the receiver's,
/// or two receivers) can tell whether they hold the same secret without showing it: the first
/// 12 hex digits of the HMAC-SHA256 of "tykhook secret fingerprint" keyed with the secret.
/// It cannot be turned back into the secret, but like any check value it lets a guess be
/// tested, so a secret must be long and random (as the portal's generated ones are).
[[nodiscard]] std::string fingerprint(const Secret& secret);

/// Parses an X-Signature-SHA256 value: 64 hex digits in either case, an optional `sha256=`
/// prefix in any case, spaces or tabs around. The error says what is wrong (never the value).
[[nodiscard]] Parsed<Digest> parse_signature_header(std::string_view value);

/// Checks bodies against a set of secrets (several mean rotation). Each secret's HMAC key is
/// set up once; every comparison is constant-time (CRYPTO_memcmp).
/// A moved-from SignatureVerifier may only be assigned to or destroyed.
class SignatureVerifier {
 public:
  /// Throws std::invalid_argument when `secrets` is empty.
  explicit SignatureVerifier(const std::vector<Secret>& secrets);
  ~SignatureVerifier();
  /// Moves the secrets' keys; the moved-from object may only be assigned to or destroyed.
  ///@{
  SignatureVerifier(SignatureVerifier&&) noexcept;
  SignatureVerifier& operator=(SignatureVerifier&&) noexcept;
  ///@}

  /// Returns the index of the first secret whose HMAC of `body` equals `digest`, or nullopt.
  /// Every secret is tried, so the time taken does not depend on which one matched.
  [[nodiscard]] std::optional<std::size_t> match(std::string_view body, const Digest& digest) const;
  /// Returns the raw HMAC-SHA256 of `body` under the secret at `index`; throws
  /// std::invalid_argument when `index` is not below size().
  [[nodiscard]] Digest compute(std::string_view body, std::size_t index) const;
  /// The number of secrets.
  std::size_t size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tykhook
