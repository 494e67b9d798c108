#include "tykhook/explain.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

using namespace tykhook;

namespace {

const std::string secret = "explain-test-secret";
const std::string body =
    R"({"Event":"PasswordReset","Message":{},"Timestamp":"2024-04-18T13:29:23Z"})";

Request request_of(std::string bytes, std::string signature) {
  return Request{.headers = {{"X-Signature-SHA256", std::move(signature)}},
                 .body = std::move(bytes)};
}

std::vector<Secret> secrets_of(std::vector<std::string> values) {
  std::vector<Secret> secrets;
  for (auto& value : values) secrets.emplace_back(std::move(value));
  return secrets;
}

}  // namespace

TEST_CASE("a newline added after signing is named, whatever its form") {
  for (const std::string_view added : {"\n", "\r\n", "\n\n"}) {
    CAPTURE(added.size());
    const auto hints = explain_mismatch(request_of(body + std::string(added), sign(secret, body)),
                                        secrets_of({secret}));
    REQUIRE(hints.size() == 1);
    CHECK(hints.front().starts_with("the signature matches the body without its final newline"));
  }
}

TEST_CASE("white space around a secret is named by the secret's place, never its bytes") {
  for (const std::string& kept : {secret + "\n", secret + "\r\n", " " + secret, secret + " \t"}) {
    const auto hints = explain_mismatch(request_of(body, sign(secret, body)),
                                        secrets_of({"another-secret", kept}));
    REQUIRE(hints.size() == 1);
    CHECK(hints.front() ==
          "the signature matches secret 2 of 2 without the white space around it (a newline in "
          "its file or variable?); remove it from the secret");
    CHECK(hints.front().find(secret) == std::string::npos);
  }
}

TEST_CASE("no hint when no cause fits, or the header cannot be read") {
  const auto secrets = secrets_of({secret});
  const struct {
    std::string_view name;
    Request request;
  } cases[] = {
      {"another secret signed it", request_of(body, sign("other", body))},
      {"the body was changed", request_of(body + " ", sign(secret, body))},
      {"a newline, and another secret", request_of(body + "\n", sign("other", body))},
      {"no header", Request{.body = body}},
      {"a malformed header", request_of(body, "xyz")},
      {"two headers", Request{.headers = {{"X-Signature-SHA256", sign(secret, body)},
                                          {"X-Signature-SHA256", sign(secret, body)}},
                              .body = body + "\n"}},
      {"an empty body", request_of("", sign(secret, "x"))},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(explain_mismatch(c.request, secrets).empty());
  }
  // A secret of white space alone, and no secrets at all: nothing to try, nothing thrown.
  CHECK(explain_mismatch(request_of(body, sign(secret, body)), secrets_of({" \n"})).empty());
  CHECK(explain_mismatch(request_of(body + "\n", sign(secret, body)), {}).empty());
}
