#include "tykhook/signature.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <stdexcept>
#include <utility>

#include "hex.h"

namespace tykhook {
namespace {

struct MacDeleter {
  void operator()(EVP_MAC* mac) const { EVP_MAC_free(mac); }
};
struct MacContextDeleter {
  void operator()(EVP_MAC_CTX* context) const { EVP_MAC_CTX_free(context); }
};
using MacPtr = std::unique_ptr<EVP_MAC, MacDeleter>;
using MacContextPtr = std::unique_ptr<EVP_MAC_CTX, MacContextDeleter>;

// Failures here are of our environment (no memory, no HMAC provider), never of a delivery:
// STYLE.md maps them to tykhook::Error.
[[noreturn]] void fail(std::string_view what) {
  throw Error("signature: " + std::string(what) + "; check the OpenSSL 3 installation");
}

MacPtr fetch_hmac() {
  MacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac) fail("HMAC is not available");
  return mac;
}

// Keys an HMAC-SHA256 context once; every message then starts from a copy of it, which saves
// hashing the key pads again for each body.
MacContextPtr make_keyed_context(EVP_MAC* mac, std::string_view key) {
  MacContextPtr context(EVP_MAC_CTX_new(mac));
  if (!context) fail("cannot create an HMAC context");
  char digest_name[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end(),
  };
  // A null key asks OpenSSL to keep a previous key rather than to use an empty one (RFC 2104
  // allows an empty key), so an empty key still gets a valid pointer.
  static constexpr unsigned char no_key_bytes[1] = {0};
  const auto* key_bytes =
      key.empty() ? no_key_bytes : reinterpret_cast<const unsigned char*>(key.data());
  if (EVP_MAC_init(context.get(), key_bytes, key.size(), params) != 1) {
    fail("cannot key HMAC-SHA256");
  }
  return context;
}

// Duplicating leaves the keyed context untouched, so SignatureVerifier stays const and can be
// shared by threads that verify at the same time.
Digest finish(const EVP_MAC_CTX* keyed, std::string_view body) {
  MacContextPtr context(EVP_MAC_CTX_dup(keyed));
  if (!context) fail("cannot copy an HMAC context");
  if (!body.empty() &&
      EVP_MAC_update(context.get(), reinterpret_cast<const unsigned char*>(body.data()),
                     body.size()) != 1) {
    fail("cannot hash the body");
  }
  Digest digest{};
  std::size_t length = 0;
  if (EVP_MAC_final(context.get(), digest.data(), &length, digest.size()) != 1 ||
      length != digest.size()) {
    fail("cannot finish HMAC-SHA256");
  }
  return digest;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }

char to_lower_ascii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (to_lower_ascii(text[i]) != prefix[i]) return false;
  }
  return true;
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
  const MacPtr mac = fetch_hmac();
  const MacContextPtr keyed = make_keyed_context(mac.get(), secret);
  return detail::to_hex(finish(keyed.get(), body));
}

Parsed<Digest> parse_signature_header(std::string_view value) {
  // DESIGN.md "Details": spaces or tabs around the value, a `sha256=` prefix in any case.
  std::size_t begin = 0;
  std::size_t end = value.size();
  while (begin < end && is_blank(value[begin])) ++begin;
  while (end > begin && is_blank(value[end - 1])) --end;
  if (begin == end) return signature_failure("the value is empty", send_hex);

  constexpr std::string_view prefix = "sha256=";
  if (starts_with_ignoring_case(value.substr(begin, end - begin), prefix)) {
    begin += prefix.size();
  } else if (has_algorithm_prefix(value.substr(begin, end - begin))) {
    return signature_failure("the value names an algorithm other than sha256",
                             "send sha256=<hex> or the hex alone");
  }

  for (std::size_t i = begin; i < end; ++i) {
    if (hex_value(value[i]) >= 0) continue;
    const std::string where = "byte " + std::to_string(i);
    if (is_blank(value[i])) {
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
    digest[i] = static_cast<unsigned char>(hex_value(value[begin + 2 * i]) * 16 +
                                           hex_value(value[begin + 2 * i + 1]));
  }
  return Parsed<Digest>{digest, {}};
}

struct SignatureVerifier::Impl {
  MacPtr mac;
  std::vector<MacContextPtr> keyed;  // one per secret, in the caller's order
};

SignatureVerifier::SignatureVerifier(const std::vector<Secret>& secrets)
    : impl_(std::make_unique<Impl>()) {
  if (secrets.empty()) {
    throw std::invalid_argument("SignatureVerifier: no secrets; give at least one Secret");
  }
  impl_->mac = fetch_hmac();
  impl_->keyed.reserve(secrets.size());
  for (const Secret& secret : secrets) {
    impl_->keyed.push_back(make_keyed_context(impl_->mac.get(), secret.bytes()));
  }
}

SignatureVerifier::~SignatureVerifier() = default;
SignatureVerifier::SignatureVerifier(SignatureVerifier&&) noexcept = default;
SignatureVerifier& SignatureVerifier::operator=(SignatureVerifier&&) noexcept = default;

std::optional<std::size_t> SignatureVerifier::match(std::string_view body,
                                                    const Digest& digest) const {
  // No early exit: the time taken must not tell which secret matched (rotation).
  std::optional<std::size_t> found;
  for (std::size_t i = 0; i < impl_->keyed.size(); ++i) {
    const Digest computed = finish(impl_->keyed[i].get(), body);
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
  return finish(impl_->keyed[index].get(), body);
}

std::size_t SignatureVerifier::size() const { return impl_->keyed.size(); }

}  // namespace tykhook
