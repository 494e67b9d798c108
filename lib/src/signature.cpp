#include "tykhook/signature.h"

// SHA256_Init/Update/Final are deprecated since OpenSSL 3.0 but kept in every 3.x release, and
// they are the only hash API whose state can be copied without an allocation: EVP_MAC and
// EVP_MD contexts allocate on every copy. Keyed that way, the HMAC of a 253-byte body took
// 0.46-0.64 us on the project's machine, against 0.57-0.94 us with two EVP_MD_CTX copies and
// 1.2-2.8 us with one EVP_MAC_CTX_dup per body (bench/README.md).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "hex.h"
#include "http_syntax.h"
#include "sha256.h"
#include "tykhook/request.h"

namespace tykhook {
namespace {

// Failures here are of our environment (a broken crypto library), never of a delivery:
// STYLE.md maps them to tykhook::Error.
std::string failure(std::string_view what) {
  return "signature: " + std::string(what) + "; check the OpenSSL 3 installation";
}

[[noreturn]] void fail(std::string_view what) { throw Error(failure(what)); }

// HMAC-SHA256 (RFC 2104) with the key's two padded blocks hashed once: every message starts
// from copies of these states, which saves hashing the pads again for each body. The states
// derive from the secret, so they are wiped when they go.
struct KeyedHash {
  SHA256_CTX inner{};
  SHA256_CTX outer{};

  explicit KeyedHash(std::string_view key) {
    // RFC 2104, section 2: a key longer than the block is hashed first; a shorter one (even
    // an empty one) is padded with zeros.
    unsigned char block[SHA256_CBLOCK] = {};
    if (key.size() > sizeof block) {
      Digest hashed = detail::sha256(key, failure("cannot hash the HMAC key"));
      std::memcpy(block, hashed.data(), hashed.size());
      OPENSSL_cleanse(hashed.data(), hashed.size());
    } else if (!key.empty()) {
      std::memcpy(block, key.data(), key.size());
    }
    unsigned char pad[SHA256_CBLOCK];
    for (std::size_t i = 0; i < sizeof pad; ++i) {
      pad[i] = static_cast<unsigned char>(block[i] ^ 0x36);
    }
    const bool inner_ok = SHA256_Init(&inner) == 1 && SHA256_Update(&inner, pad, sizeof pad) == 1;
    for (std::size_t i = 0; i < sizeof pad; ++i) {
      pad[i] = static_cast<unsigned char>(block[i] ^ 0x5c);
    }
    const bool outer_ok = SHA256_Init(&outer) == 1 && SHA256_Update(&outer, pad, sizeof pad) == 1;
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pad, sizeof pad);
    if (!inner_ok || !outer_ok) fail("cannot key HMAC-SHA256");
  }
  KeyedHash(const KeyedHash&) = default;
  KeyedHash& operator=(const KeyedHash&) = default;
  ~KeyedHash() { OPENSSL_cleanse(this, sizeof *this); }
};

// Reads the keyed states without changing them, so SignatureVerifier stays const and can be
// shared by threads that verify at the same time.
Digest finish(const KeyedHash& keyed, std::string_view body) {
  SHA256_CTX context = keyed.inner;
  Digest inner_digest{};
  bool ok = SHA256_Update(&context, body.data(), body.size()) == 1 &&
            SHA256_Final(inner_digest.data(), &context) == 1;
  context = keyed.outer;
  Digest digest{};
  ok = ok && SHA256_Update(&context, inner_digest.data(), inner_digest.size()) == 1 &&
       SHA256_Final(digest.data(), &context) == 1;
  OPENSSL_cleanse(&context, sizeof context);
  if (!ok) fail("cannot compute HMAC-SHA256");
  return digest;
}

// True for `name=` at the start, e.g. `sha1=` or `v1=`: a sender that signs with another scheme.
bool has_algorithm_prefix(std::string_view text) {
  const std::size_t equals = text.find('=');
  if (equals == 0 || equals == std::string_view::npos) return false;
  for (const char c : text.substr(0, equals)) {
    const bool name_byte = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!name_byte) return false;
  }
  return true;
}

// The value comes from the request and may be long or hostile, so no message repeats any of it
// (STYLE.md, "Error messages for people"); a byte offset into the value says where instead.
Parsed<Digest> signature_failure(std::string_view what, std::string_view fix) {
  std::string message(signature_header);
  message += ": ";
  message += what;
  message += "; ";
  message += fix;
  return Parsed<Digest>::failure(std::move(message));
}

constexpr std::string_view send_hex = "send the hex HMAC-SHA256 of the body";

}  // namespace

Secret::Secret(std::string bytes) : bytes_(std::move(bytes)) {
  if (bytes_.empty()) {
    throw std::invalid_argument("Secret: the secret is empty; give a secret of at least one byte");
  }
}

std::string sign(std::string_view secret, std::string_view body) {
  return detail::to_hex(finish(KeyedHash(secret), body));
}

std::string fingerprint(const Secret& secret) {
  return sign(secret.bytes(), "tykhook secret fingerprint").substr(0, 12);
}

Parsed<Digest> parse_signature_header(std::string_view value) {
  // DESIGN.md "Details": spaces or tabs around the value, a `sha256=` prefix in any case.
  std::size_t begin = 0;
  std::size_t end = value.size();
  while (begin < end && detail::is_ows(value[begin])) ++begin;
  while (end > begin && detail::is_ows(value[end - 1])) --end;
  if (begin == end) return signature_failure("the value is empty", send_hex);

  constexpr std::string_view prefix = "sha256=";
  if (header_name_equals(value.substr(begin, std::min(prefix.size(), end - begin)), prefix)) {
    begin += prefix.size();
  } else if (has_algorithm_prefix(value.substr(begin, end - begin))) {
    return signature_failure("the value names an algorithm other than sha256",
                             "send sha256=<hex> or the hex alone");
  }

  for (std::size_t i = begin; i < end; ++i) {
    if (detail::hex_value(value[i]) >= 0) continue;
    const std::string where = "byte " + std::to_string(i);
    if (detail::is_ows(value[i])) {
      return signature_failure(where + " is white space inside the value",
                               "white space is allowed only around the value");
    }
    return signature_failure(where + " is not a hex digit", send_hex);
  }

  Digest digest{};
  const std::size_t digits = end - begin;
  if (digits != 2 * digest.size()) {
    return signature_failure("expected 64 hex digits, got " + std::to_string(digits), send_hex);
  }
  for (std::size_t i = 0; i < digest.size(); ++i) {
    digest[i] = static_cast<unsigned char>(detail::hex_value(value[begin + 2 * i]) * 16 +
                                           detail::hex_value(value[begin + 2 * i + 1]));
  }
  return Parsed<Digest>{digest, {}};
}

struct SignatureVerifier::Impl {
  std::vector<KeyedHash> keyed;  // one per secret, in the caller's order
};

SignatureVerifier::SignatureVerifier(const std::vector<Secret>& secrets)
    : impl_(std::make_unique<Impl>()) {
  if (secrets.empty()) {
    throw std::invalid_argument("SignatureVerifier: no secrets; give at least one Secret");
  }
  impl_->keyed.reserve(secrets.size());
  for (const Secret& secret : secrets) impl_->keyed.emplace_back(secret.bytes());
}

SignatureVerifier::~SignatureVerifier() = default;
SignatureVerifier::SignatureVerifier(SignatureVerifier&&) noexcept = default;
SignatureVerifier& SignatureVerifier::operator=(SignatureVerifier&&) noexcept = default;

std::optional<std::size_t> SignatureVerifier::match(std::string_view body,
                                                    const Digest& digest) const {
  // No early exit: the time taken must not tell which secret matched (rotation).
  std::optional<std::size_t> found;
  for (std::size_t i = 0; i < impl_->keyed.size(); ++i) {
    const Digest computed = finish(impl_->keyed[i], body);
    const bool equal = CRYPTO_memcmp(computed.data(), digest.data(), digest.size()) == 0;
    if (equal && !found) found = i;
  }
  return found;
}

Digest SignatureVerifier::compute(std::string_view body, std::size_t index) const {
  if (index >= impl_->keyed.size()) {
    throw std::invalid_argument("SignatureVerifier::compute: index " + std::to_string(index) +
                                " is out of range for " + std::to_string(impl_->keyed.size()) +
                                " secrets; use an index below size()");
  }
  return finish(impl_->keyed[index], body);
}

std::size_t SignatureVerifier::size() const { return impl_->keyed.size(); }

}  // namespace tykhook
