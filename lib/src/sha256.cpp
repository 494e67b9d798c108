#include "sha256.h"

// SHA256_Init/Update/Final are deprecated since OpenSSL 3.0; signature.cpp says why they are
// used all the same. Unlike EVP_Digest(EVP_sha256()), these calls fetch no algorithm and
// allocate no context for each body (bench/README.md).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "hex.h"

namespace tykhook::detail {

Digest sha256(std::string_view bytes, std::string_view failure) {
  SHA256_CTX context;
  Digest digest{};
  const bool ok = SHA256_Init(&context) == 1 &&
                  SHA256_Update(&context, bytes.data(), bytes.size()) == 1 &&
                  SHA256_Final(digest.data(), &context) == 1;
  // The bytes may be a secret (an HMAC key): its state does not stay behind on the stack.
  OPENSSL_cleanse(&context, sizeof context);
  if (!ok) throw Error(std::string(failure));
  return digest;
}

std::string sha256_hex(std::string_view bytes, std::string_view failure) {
  return to_hex(sha256(bytes, failure));
}

}  // namespace tykhook::detail
