#include "sha256.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "hex.h"

namespace {

using tykhook::detail::sha256;
using tykhook::detail::sha256_hex;

TEST_CASE("SHA-256 gives the digests of FIPS 180-4's examples, in lower-case hex") {
  const struct {
    std::string_view name;
    std::string bytes;
    std::string_view want;
  } cases[] = {
      {"empty", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"two blocks", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {"a million a", std::string(1'000'000, 'a'),
       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
      {"one NUL byte", std::string(1, '\0'),
       "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(sha256_hex(c.bytes, "unused") == c.want);
    CHECK(tykhook::detail::to_hex(sha256(c.bytes, "unused")) == c.want);
  }
}

TEST_CASE("SHA-256 hashes every byte, NULs and the bytes after them included") {
  const std::string with_nul("a\0b", 3);
  CHECK(sha256_hex(with_nul, "unused") != sha256_hex("a", "unused"));
  CHECK(sha256_hex(with_nul, "unused") != sha256_hex(std::string("a\0c", 3), "unused"));
}

}  // namespace
