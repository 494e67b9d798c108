#include "tykhook/signature.h"

#include <doctest/doctest.h>

#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "hex.h"

namespace {

using tykhook::Digest;
using tykhook::parse_signature_header;
using tykhook::Secret;
using tykhook::sign;
using tykhook::SignatureVerifier;
using tykhook::detail::to_hex;

std::string repeat(char byte, std::size_t count) { return std::string(count, byte); }

std::string upper(std::string text) {
  for (char& c : text) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return text;
}

Digest digest_of(std::string_view hex) {
  const auto parsed = parse_signature_header(hex);
  REQUIRE(parsed.ok());
  return *parsed;
}

constexpr std::string_view body = R"({"Event":"UserRegistered","Message":{},"Timestamp":"x"})";

}  // namespace

TEST_CASE("sign gives the HMAC-SHA256 of every RFC 4231 test case") {
  // RFC 4231, section 4.2 to 4.8. Case 5 is truncated to 128 bits, so only the prefix is given.
  const std::string key_20_0b = repeat('\x0b', 20);
  const std::string key_20_aa = repeat('\xaa', 20);
  const std::string key_25(
      "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16"
      "\x17\x18\x19");
  const std::string key_20_0c = repeat('\x0c', 20);
  const std::string key_131_aa = repeat('\xaa', 131);
  const struct {
    std::string_view name;
    std::string key;
    std::string data;
    std::string_view want;
  } cases[] = {
      {"case 1", key_20_0b, "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"case 2", "Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {"case 3", key_20_aa, repeat('\xdd', 50),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {"case 4", key_25, repeat('\xcd', 50),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {"case 5 (truncated to 128 bits)", key_20_0c, "Test With Truncation",
       "a3b6167473100ee06e0c796c2955552b"},
      {"case 6", key_131_aa, "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {"case 7", key_131_aa,
       "This is a test using a larger than block-size key and a larger than block-size data. The "
       "key needs to be hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const std::string hex = sign(c.key, c.data);
    CHECK(hex.size() == 64);
    CHECK(std::string_view(hex).substr(0, c.want.size()) == c.want);

    const SignatureVerifier verifier({Secret(c.key)});
    CHECK(to_hex(verifier.compute(c.data, 0)).substr(0, c.want.size()) == c.want);
  }
}

TEST_CASE("sign gives lower-case hex and accepts an empty key and an empty body") {
  // HMAC-SHA256 with an empty key of an empty message (RFC 2104 allows an empty key).
  CHECK(sign("", "") == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  const std::string hex = sign("secret", body);
  CHECK(hex.find_first_not_of("0123456789abcdef") == std::string::npos);
}

TEST_CASE("signature headers are accepted in each documented spelling, and only those") {
  const std::string hex = sign("secret", body);
  const Digest want = digest_of(hex);
  const struct {
    std::string_view name;
    std::string value;
  } good[] = {
      {"lower-case hex", hex},
      {"upper-case hex", upper(hex)},
      {"mixed-case hex", upper(hex.substr(0, 32)) + hex.substr(32)},
      {"sha256= prefix", "sha256=" + hex},
      {"SHA256= prefix", "SHA256=" + hex},
      {"Sha256= prefix", "Sha256=" + upper(hex)},
      {"leading spaces", "   " + hex},
      {"trailing spaces", hex + "  "},
      {"tabs around", "\t" + hex + "\t"},
      {"spaces and tabs around a prefixed value", " \t sha256=" + hex + "\t "},
  };
  for (const auto& c : good) {
    CAPTURE(c.name);
    const auto parsed = parse_signature_header(c.value);
    CHECK(parsed.error == "");
    REQUIRE(parsed.ok());
    CHECK(to_hex(*parsed) == hex);
    CHECK(*parsed == want);
  }

  const struct {
    std::string_view name;
    std::string value;
    std::string_view error;
  } bad[] = {
      {"empty", "", "X-Signature-SHA256: the value is empty; send the hex HMAC-SHA256 of the body"},
      {"only white space", " \t ", "X-Signature-SHA256: the value is empty"},
      {"63 digits", hex.substr(1),
       "X-Signature-SHA256: expected 64 hex digits, got 63; send the hex HMAC-SHA256 of the body"},
      {"65 digits", hex + "0", "X-Signature-SHA256: expected 64 hex digits, got 65"},
      {"128 digits", hex + hex, "X-Signature-SHA256: expected 64 hex digits, got 128"},
      {"prefix without digits", "sha256=", "X-Signature-SHA256: expected 64 hex digits, got 0"},
      {"non-hex byte", hex.substr(0, 7) + "g" + hex.substr(8),
       "X-Signature-SHA256: byte 7 is not a hex digit; send the hex HMAC-SHA256 of the body"},
      {"non-hex byte after a prefix and spaces", "  sha256=" + hex.substr(0, 63) + "z",
       "X-Signature-SHA256: byte 72 is not a hex digit"},
      {"space inside", hex.substr(0, 32) + " " + hex.substr(32),
       "X-Signature-SHA256: byte 32 is white space inside the value"},
      {"space after the prefix", "sha256= " + hex,
       "X-Signature-SHA256: byte 7 is white space inside the value"},
      {"sha1= prefix", "sha1=" + hex.substr(0, 40),
       "X-Signature-SHA256: the value names an algorithm other than sha256; send sha256=<hex> "
       "or the hex alone"},
      {"v1= prefix", "v1=" + hex,
       "X-Signature-SHA256: the value names an algorithm other than sha256"},
      {"prefix without =", "sha256" + hex, "X-Signature-SHA256: byte 0 is not a hex digit"},
      {"base64", "3q2+7w==", "X-Signature-SHA256: byte 1 is not a hex digit"},
      {"0x prefix", "0x" + hex, "X-Signature-SHA256: byte 1 is not a hex digit"},
      {"NUL byte", hex.substr(0, 10) + std::string(1, '\0') + hex.substr(11),
       "X-Signature-SHA256: byte 10 is not a hex digit"},
      {"line break after the value", hex + "\n", "X-Signature-SHA256: byte 64 is not a hex digit"},
  };
  for (const auto& c : bad) {
    CAPTURE(c.name);
    const auto parsed = parse_signature_header(c.value);
    CHECK_FALSE(parsed.ok());
    CAPTURE(parsed.error);
    CHECK(parsed.error.find(c.error) == 0);
  }
  CHECK(std::size(bad) >= std::size(good));
}

TEST_CASE("a signature error never repeats the header value") {
  const std::string hostile = "sha256=" + repeat('Q', 10000) + "<script>";
  const auto parsed = parse_signature_header(hostile);
  CHECK_FALSE(parsed.ok());
  CHECK(parsed.error ==
        "X-Signature-SHA256: byte 7 is not a hex digit; send the hex "
        "HMAC-SHA256 of the body");

  const auto long_hex = parse_signature_header(repeat('a', 100000));
  CHECK(long_hex.error ==
        "X-Signature-SHA256: expected 64 hex digits, got 100000; send the hex "
        "HMAC-SHA256 of the body");
}

TEST_CASE("the verifier matches the signed body under its one secret") {
  const SignatureVerifier verifier({Secret("secret")});
  CHECK(verifier.size() == 1);
  const Digest digest = digest_of(sign("secret", body));
  CHECK(verifier.compute(body, 0) == digest);
  const auto index = verifier.match(body, digest);
  REQUIRE(index.has_value());
  CHECK(*index == 0);
  // The same verifier serves many messages: the keyed context is reused, not consumed.
  CHECK(verifier.match(body, digest) == index);
  CHECK(verifier.match("other body", digest_of(sign("secret", "other body"))) == index);
}

TEST_CASE("a body signed with the second of two secrets matches index 1 (rotation)") {
  const SignatureVerifier verifier({Secret("old secret"), Secret("new secret")});
  CHECK(verifier.size() == 2);
  const auto first = verifier.match(body, digest_of(sign("old secret", body)));
  const auto second = verifier.match(body, digest_of(sign("new secret", body)));
  const auto neither = verifier.match(body, digest_of(sign("third secret", body)));
  REQUIRE(first.has_value());
  REQUIRE(second.has_value());
  CHECK(*first == 0);
  CHECK(*second == 1);
  CHECK_FALSE(neither.has_value());
}

TEST_CASE("two equal secrets match the first of them") {
  const SignatureVerifier verifier({Secret("same"), Secret("same")});
  const auto index = verifier.match(body, digest_of(sign("same", body)));
  REQUIRE(index.has_value());
  CHECK(*index == 0);
}

TEST_CASE("a body with one flipped byte does not match") {
  const SignatureVerifier verifier({Secret("secret")});
  const Digest digest = digest_of(sign("secret", body));
  for (std::size_t i = 0; i < body.size(); ++i) {
    std::string flipped(body);
    flipped[i] = static_cast<char>(flipped[i] ^ 0x01);
    CAPTURE(i);
    CHECK_FALSE(verifier.match(flipped, digest).has_value());
  }
}

TEST_CASE("a line break appended after signing does not match") {
  const SignatureVerifier verifier({Secret("secret")});
  const Digest digest = digest_of(sign("secret", body));
  CHECK_FALSE(verifier.match(std::string(body) + "\n", digest).has_value());
  CHECK_FALSE(verifier.match(std::string(body) + "\r\n", digest).has_value());
  CHECK_FALSE(verifier.match(body.substr(0, body.size() - 1), digest).has_value());
}

TEST_CASE("a digest with one flipped bit does not match") {
  const SignatureVerifier verifier({Secret("secret")});
  const Digest digest = digest_of(sign("secret", body));
  for (std::size_t i = 0; i < digest.size(); ++i) {
    Digest flipped = digest;
    flipped[i] = static_cast<unsigned char>(flipped[i] ^ 0x80);
    CAPTURE(i);
    CHECK_FALSE(verifier.match(body, flipped).has_value());
  }
}

TEST_CASE("NUL bytes inside the body and the secret are part of the HMAC") {
  const std::string secret("k\0y", 3);
  const std::string nul_body("a\0b", 3);
  // HMAC-SHA256 of the three bytes "a\0b" keyed with the three bytes "k\0y".
  constexpr std::string_view want =
      "20b3a393e9f0e606ae91954f1f871ebd5cd9c3a8f26e7b22beaed26ab4891891";
  CHECK(sign(secret, nul_body) == want);

  const SignatureVerifier verifier({Secret(secret)});
  CHECK(to_hex(verifier.compute(nul_body, 0)) == want);
  const auto index = verifier.match(nul_body, digest_of(want));
  REQUIRE(index.has_value());
  CHECK(*index == 0);
  // Cutting at the NUL gives a different HMAC, for the body and for the secret.
  CHECK_FALSE(verifier.match("a", digest_of(want)).has_value());
  CHECK(sign("k", nul_body) != want);
}

TEST_CASE("misuse throws std::invalid_argument without naming a secret") {
  CHECK_THROWS_AS(Secret(""), std::invalid_argument);
  CHECK_THROWS_WITH_AS(Secret(""),
                       "Secret: the secret is empty; give a secret of at least one byte",
                       std::invalid_argument);
  CHECK_THROWS_AS(SignatureVerifier({}), std::invalid_argument);
  CHECK_THROWS_WITH_AS(SignatureVerifier({}),
                       "SignatureVerifier: no secrets; give at least one Secret",
                       std::invalid_argument);

  const SignatureVerifier verifier({Secret("top-secret-value"), Secret("other-secret")});
  CHECK_THROWS_AS((void)verifier.compute(body, 2), std::invalid_argument);
  try {
    (void)verifier.compute(body, 2);
  } catch (const std::invalid_argument& e) {
    const std::string_view message = e.what();
    CHECK(message ==
          "SignatureVerifier::compute: index 2 is out of range for 2 secrets; use an index "
          "below size()");
    CHECK(message.find("top-secret-value") == std::string_view::npos);
    CHECK(message.find("other-secret") == std::string_view::npos);
  }
}

TEST_CASE("a moved verifier keeps its secrets") {
  SignatureVerifier first({Secret("a"), Secret("b")});
  SignatureVerifier second(std::move(first));
  CHECK(second.size() == 2);
  SignatureVerifier third({Secret("c")});
  third = std::move(second);
  CHECK(third.size() == 2);
  const auto index = third.match(body, digest_of(sign("b", body)));
  REQUIRE(index.has_value());
  CHECK(*index == 1);
}

TEST_CASE("a secret's fingerprint: 12 hex digits of its HMAC of a fixed text, one per secret") {
  // Expected values from an independent HMAC-SHA256 implementation.
  CHECK(fingerprint(Secret("whsec-demo-secret")) == "bce85f88a742");
  CHECK(fingerprint(Secret("a")) == "004d8ec7866c");
  // One byte more (a file's newline kept) is another secret, and shows as one.
  CHECK(fingerprint(Secret("whsec-demo-secret\n")) == "a189a2f9ba03");
  const std::string print = fingerprint(Secret("top-secret-value"));
  CHECK(print.size() == 12);
  CHECK(print.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(print.find("top") == std::string::npos);
}
