#include "tykhook/explain.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

using namespace tykhook;

namespace {

const std::string secret = "explain-test-secret";
const std::string body =
    R"({"Event":"PasswordReset","Message":{},"Timestamp":"2024-04-18T13:29:23Z"})";
// As the portal writes it: compact, `<`, `>` and `&` escaped, `/` as itself.
const std::string go_body =
    R"({"Event":"UserRegistered","Message":{"URL":"https://example.com/x","Name":"a \u003cb\u003e \u0026 c"},"Timestamp":"2024-04-18T13:29:23Z"})";
const ExplainOptions every{.every_cause = true};

Request request_of(std::string bytes, std::string signature) {
  return Request{.headers = {{"X-Signature-SHA256", std::move(signature)}},
                 .body = std::move(bytes)};
}

std::vector<Secret> secrets_of(std::vector<std::string> values) {
  std::vector<Secret> secrets;
  for (auto& value : values) secrets.emplace_back(std::move(value));
  return secrets;
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// No hint may show a secret, a signature, a digest or a fingerprint: no run of 12 hex digits.
void check_clean(const std::vector<std::string>& hints) {
  for (const std::string& hint : hints) {
    CAPTURE(hint);
    CHECK(hint.find(secret) == std::string::npos);
    std::size_t run = 0;
    for (const char c : hint) {
      run = std::isxdigit(static_cast<unsigned char>(c)) ? run + 1 : 0;
      CHECK(run < 12);
    }
  }
}

// The hints for `captured` carrying the signature of `signed_body`, with every cause tried.
std::vector<std::string> explain_every(const std::string& captured,
                                       const std::string& signed_body) {
  auto hints = explain_mismatch(request_of(captured, sign(secret, signed_body)),
                                secrets_of({secret}), every);
  check_clean(hints);
  return hints;
}

}  // namespace

TEST_CASE("a newline added after signing is named, whatever its form") {
  const struct {
    std::string_view added;
    std::string_view named;
  } cases[] = {{"\n", "its final newline"},
               {"\r\n", "its final CRLF"},
               {"\n\n", "its 2 final line-end bytes"}};
  for (const auto& c : cases) {
    CAPTURE(c.named);
    for (const bool every_cause : {false, true}) {
      const auto hints =
          explain_mismatch(request_of(body + std::string(c.added), sign(secret, body)),
                           secrets_of({"another-secret", secret}), {.every_cause = every_cause});
      check_clean(hints);
      REQUIRE(hints.size() == 1);
      CHECK(hints.front() == "the signature matches the body without " + std::string(c.named) +
                                 " (under secret 2 of 2): one was added after signing (an "
                                 "editor's final newline?); remove it");
    }
  }
}

TEST_CASE("white space around a secret is named by the secret's place, never its bytes") {
  for (const std::string& kept : {secret + "\n", secret + "\r\n", " " + secret, secret + " \t"}) {
    for (const bool every_cause : {false, true}) {
      const auto hints =
          explain_mismatch(request_of(body, sign(secret, body)),
                           secrets_of({"another-secret", kept}), {.every_cause = every_cause});
      check_clean(hints);
      REQUIRE(hints.size() == 1);
      CHECK(hints.front() ==
            "the signature matches secret 2 of 2 without the white space around it (a newline in "
            "its file or variable?); remove it from the secret");
    }
  }
}

TEST_CASE("a sender whose secret has a line end or a space after it is named") {
  const struct {
    std::string padding;
    std::string_view named;
  } cases[] = {{"\n", "a newline"}, {"\r\n", "a CRLF"}, {" ", "a space"}};
  for (const auto& c : cases) {
    for (const bool every_cause : {false, true}) {
      CAPTURE(c.named);
      const auto hints =
          explain_mismatch(request_of(body, sign(secret + c.padding, body)),
                           secrets_of({"another-secret", secret}), {.every_cause = every_cause});
      check_clean(hints);
      REQUIRE(hints.size() == 1);
      CHECK(hints.front() == "the signature matches secret 2 of 2 with " + std::string(c.named) +
                                 " after it: the sender's secret has one (a newline in its file "
                                 "or variable?); remove it where the portal's secret is set");
    }
  }
  // A signature under neither the secret nor a padded one gets no such hint.
  const auto none = explain_mismatch(request_of(body, sign(secret + "\t\t", body)),
                                     secrets_of({secret}), {.every_cause = true});
  REQUIRE(none.size() == 1);
  CHECK(none.front().starts_with("no likely cause found"));
}

TEST_CASE("a byte-order mark or converted line ends are named only when every cause is tried") {
  const std::string bom = "\xEF\xBB\xBF";
  const std::string pretty = nlohmann::ordered_json::parse(body).dump(2);
  const struct {
    std::string_view name;
    std::string captured;
    std::string signed_body;
    std::string_view hint;
  } cases[] = {
      {"a BOM", bom + body, body,
       "the signature matches the body without the byte-order mark (EF BB BF) at its start "
       "(under secret 1 of 1): an editor or a tool added it after signing"},
      {"a BOM and a newline", bom + body + "\r\n", body,
       "the signature matches the body without the byte-order mark (EF BB BF) at its start and "
       "without its final CRLF (under secret 1 of 1)"},
      {"LF as CRLF", replace_all(pretty, "\n", "\r\n"), pretty,
       "the signature matches the body with its line ends as LF instead of CRLF (under secret 1 "
       "of 1): an editor or a transfer in text mode converted them"},
      {"CRLF as LF", pretty, replace_all(pretty, "\n", "\r\n"),
       "the signature matches the body with its line ends as CRLF instead of LF (under secret 1 "
       "of 1)"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto hints = explain_every(c.captured, c.signed_body);
    REQUIRE(hints.size() == 1);
    CHECK(hints.front().starts_with(c.hint));
    // The quick tests that verify always runs do not look for these.
    CHECK(
        explain_mismatch(request_of(c.captured, sign(secret, c.signed_body)), secrets_of({secret}))
            .empty());
  }
}

TEST_CASE("a Content-Length that disagrees with the body names the capture that cut or padded it") {
  const auto with_length = [](std::string captured, std::size_t length,
                              const std::string& signed_body) {
    Request request = request_of(std::move(captured), sign(secret, signed_body));
    request.headers.push_back({"Content-Length", std::to_string(length)});
    auto hints = explain_mismatch(request, secrets_of({secret}), every);
    check_clean(hints);
    return hints;
  };
  const std::string size = std::to_string(body.size());

  const auto padded = with_length(body + std::string("\0\0 trailing bytes", 17), body.size(), body);
  REQUIRE(padded.size() == 1);
  CHECK(padded.front() == "the signature matches the first " + size +
                              " bytes of the body (under secret 1 of 1): Content-Length says " +
                              size + " bytes, and the body has " +
                              std::to_string(body.size() + 17) +
                              "; the capture added bytes after the body; keep as many as "
                              "Content-Length says");

  const auto cut = with_length(body.substr(0, 20), body.size(), body);
  REQUIRE(cut.size() == 1);
  CHECK(cut.front() == "Content-Length says " + size +
                           " bytes, and the body has 20: the capture cut the body; capture the "
                           "whole request");

  const auto other = with_length(body + "xx", body.size(), "another body");
  REQUIRE(other.size() == 1);
  CHECK(other.front().starts_with("Content-Length says " + size + " bytes, and the body has " +
                                  std::to_string(body.size() + 2) +
                                  ": the capture padded the body"));

  // A Content-Length that agrees says nothing of its own.
  const auto agrees = with_length(body, body.size(), "another body");
  REQUIRE(agrees.size() == 1);
  CHECK(agrees.front().starts_with("no likely cause found"));
}

TEST_CASE("a body re-encoded after signing is named by what the re-encoding changed") {
  const auto ordered = nlohmann::ordered_json::parse(go_body);
  const std::string pretty_signed = ordered.dump(2);  // a sender that signs a pretty body
  const struct {
    std::string_view name;
    std::string captured;
    std::string signed_body;
    std::string_view changes;
  } cases[] = {
      {"pretty-printed", ordered.dump(2), go_body,
       "compact, as the portal writes it, instead of pretty-printed; <, > and & escaped as "
       "\\u003c, \\u003e and \\u0026, as Go writes them"},
      {"pretty-printed by 4, with a newline", ordered.dump(4) + "\n", go_body,
       "compact, as the portal writes it, instead of pretty-printed; <, > and & escaped as "
       "\\u003c, \\u003e and \\u0026, as Go writes them; without its final newline)"},
      {"the envelope reordered",
       R"({"Timestamp":"2024-04-18T13:29:23Z","Event":"UserRegistered","Message":{"URL":"https://example.com/x","Name":"a \u003cb\u003e \u0026 c"}})",
       go_body, "(Event, Message and Timestamp in the portal's order)"},
      {"signed with keys sorted", go_body, nlohmann::json::parse(go_body).dump(),
       "(keys sorted by name; \\u003c, \\u003e and \\u0026 written as <, > and &)"},
      {"unescaped",
       replace_all(replace_all(replace_all(go_body, "\\u003c", "<"), "\\u003e", ">"), "\\u0026",
                   "&"),
       go_body, "<, > and & escaped as \\u003c, \\u003e and \\u0026, as Go writes them"},
      {"escaped", go_body,
       replace_all(replace_all(replace_all(go_body, "\\u003c", "<"), "\\u003e", ">"), "\\u0026",
                   "&"),
       "\\u003c, \\u003e and \\u0026 written as <, > and &"},
      {"slashes escaped", replace_all(go_body, "/", "\\/"), go_body, "\\/ written as /"},
      {"slashes unescaped", go_body, replace_all(go_body, "/", "\\/"), "/ escaped as \\/"},
      {"minified", go_body, pretty_signed, "pretty-printed with 2-space indents"},
      {"non-ASCII escaped", R"({"Event":"X","Message":{"Name":"Jos\u00e9"}})",
       R"({"Event":"X","Message":{"Name":"José"}})", "other \\u escapes written as UTF-8"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto hints = explain_every(c.captured, c.signed_body);
    REQUIRE(hints.size() == 1);
    CHECK(hints.front().starts_with("the signature matches the body re-encoded ("));
    CHECK(hints.front().find(c.changes) != std::string::npos);
    CHECK(hints.front().find(") (under secret 1 of 1): a tool parsed the body and wrote it again "
                             "after signing") != std::string::npos);
    CHECK(
        explain_mismatch(request_of(c.captured, sign(secret, c.signed_body)), secrets_of({secret}))
            .empty());
  }
}

TEST_CASE("a body over the re-encoding limit is not re-encoded, and the hints say so") {
  const auto hints = explain_mismatch(
      request_of(nlohmann::ordered_json::parse(go_body).dump(2), sign(secret, go_body)),
      secrets_of({secret}), {.every_cause = true, .max_reencoded_body = 100});
  check_clean(hints);
  REQUIRE(hints.size() == 2);
  CHECK(hints[0].starts_with("no likely cause found: "));
  const std::size_t size = nlohmann::ordered_json::parse(go_body).dump(2).size();
  CHECK(hints[1].starts_with("the body has " + std::to_string(size) +
                             " bytes, over the 100 that are re-encoded: whether "
                             "it was pretty-printed, reordered or re-escaped after signing was "
                             "not tested"));
}

TEST_CASE("a header quoted, prefixed, in base64, cut or repeated is named with its evidence") {
  const std::string hex = sign(secret, body);
  const std::string base64 = "fTyjHh0Jv8bzlJGIqP0QtDC6hnQ1AI/7fm5c/P8u1hM=";  // of another digest
  const struct {
    std::string_view name;
    std::vector<std::string> values;
    std::string_view hint;
  } cases[] = {
      {"double quotes",
       {"\"" + hex + "\""},
       "X-Signature-SHA256's value is in quotes, and the signature in it matches the body (under "
       "secret 1 of 1): remove the quotes where the header is set"},
      {"single quotes around sha256=",
       {"'sha256=" + hex + "'"},
       "X-Signature-SHA256's value is in quotes, and the signature in it matches the body"},
      {"quotes around another signature",
       {"\"" + sign("other", body) + "\""},
       "X-Signature-SHA256's value is in quotes, and the signature in it does not match the body "
       "either: remove the quotes where the header is set, then see what verify says"},
      {"another prefix",
       {"v1=" + hex},
       "X-Signature-SHA256's value is a signature after a prefix of 3 bytes that is not sha256=, "
       "and the signature in it matches the body (under secret 1 of 1): send sha256=<hex> or the "
       "hex alone"},
      {"a colon",
       {"sha256:" + hex},
       "after a prefix of 7 bytes that is not sha256=, and the "
       "signature in it matches the body (under secret 1 of 1)"},
      {"cut",
       {hex.substr(0, 40)},
       "X-Signature-SHA256's value has 40 hex digits, fewer than 64: it was cut"},
      {"cut after sha256=",
       {"sha256=" + hex.substr(0, 63)},
       "X-Signature-SHA256's value has 63 hex digits, fewer than 64: it was cut"},
      {"base64 of another digest",
       {base64},
       "X-Signature-SHA256's value is 32 bytes in base64, not hex, and they do not match the body "
       "either"},
      {"repeated",
       {"0000", hex},
       "X-Signature-SHA256 appears 2 times, and value 2 matches the body (under secret 1 of 1): "
       "something on the way added the others"},
      {"repeated, no match",
       {sign("other", body), hex + "0"},
       "X-Signature-SHA256 appears 2 times, and no value matches the body; send the header once"},
      {"nothing known", {"not a signature at all"}, "no likely cause found: the value of "},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    Request request{.body = body};
    for (const auto& value : c.values) request.headers.push_back({"X-Signature-SHA256", value});
    const auto hints = explain_mismatch(request, secrets_of({secret}), every);
    check_clean(hints);
    REQUIRE(hints.size() == 1);
    CHECK(hints.front().find(c.hint) != std::string::npos);
    // Only --explain looks at a header that cannot be read.
    CHECK(explain_mismatch(request, secrets_of({secret})).empty());
  }
}

TEST_CASE("the signature in base64 instead of hex is named") {
  // The digest of `body` under `secret`, from its hex, in base64.
  const std::string hex = sign(secret, body);
  std::string raw;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    raw += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  static constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string base64;
  for (std::size_t i = 0; i < raw.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, raw.size() - i);
    unsigned value = 0;
    for (std::size_t k = 0; k < 3; ++k) {
      value = value << 8 | (k < n ? static_cast<unsigned char>(raw[i + k]) : 0u);
    }
    for (std::size_t k = 0; k < 4; ++k) {
      base64 += k <= n ? alphabet[(value >> (18 - 6 * k)) & 63] : '=';
    }
  }
  const auto hints = explain_mismatch(request_of(body, base64), secrets_of({secret}), every);
  check_clean(hints);
  REQUIRE(hints.size() == 1);
  CHECK(hints.front() ==
        "X-Signature-SHA256's value is the signature in base64, not hex, and it matches the body "
        "(under secret 1 of 1): send it as 64 hex digits");
}

TEST_CASE("a secret in the shape of a fingerprint is named, and whose fingerprint it is") {
  const std::string print = fingerprint(Secret(secret));
  std::string upper = print;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const struct {
    std::string_view name;
    std::vector<std::string> secrets;
    std::string_view hint;
  } cases[] = {
      {"the fingerprint of another secret",
       {secret, print},
       "secret 2 of 2 is the fingerprint of secret 1 of 2, not a secret: you may have copied the "
       "fingerprint instead of the secret; give the secret itself"},
      {"in upper case, first",
       {upper, secret},
       "secret 1 of 2 is the fingerprint of secret 2 of 2, not a secret"},
      {"alone",
       {"0123456789ab"},
       "secret 1 of 1 has the shape of a fingerprint (12 hex digits, as tykhook secret "
       "fingerprint prints): you may have copied the fingerprint instead of the secret"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    // Signed with the portal's secret, which is not configured.
    const auto hints = explain_mismatch(request_of(body, sign("the portal's secret", body)),
                                        secrets_of(c.secrets), every);
    for (const auto& hint : hints) CHECK(hint.find(print) == std::string::npos);
    REQUIRE(hints.size() == 1);
    CHECK(hints.front().starts_with(c.hint));
    CHECK(
        explain_mismatch(request_of(body, sign("the portal's secret", body)), secrets_of(c.secrets))
            .empty());
  }
  // 12 hex digits and one more are not a fingerprint's shape.
  const auto longer =
      explain_mismatch(request_of(body, sign("other", body)), secrets_of({"0123456789abc"}), every);
  REQUIRE(longer.size() == 1);
  CHECK(longer.front().starts_with("no likely cause found"));
}

TEST_CASE("no hint when no cause fits, or the header cannot be read") {
  const auto secrets = secrets_of({secret});
  const struct {
    std::string_view name;
    Request request;
  } cases[] = {
      {"another secret signed it", request_of(body, sign("other", body))},
      {"the body was changed", request_of(replace_all(body, "Reset", "Rest"), sign(secret, body))},
      {"a newline, and another secret", request_of(body + "\n", sign("other", body))},
      {"a malformed header", request_of(body, "xyz")},
      {"an empty body", request_of("", sign(secret, "x"))},
      {"a body that is not JSON", request_of("not json\n", sign(secret, "not json "))},
      {"a body nested too deep",
       request_of(std::string(100, '[') + std::string(100, ']'), sign(secret, "[]"))},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(explain_mismatch(c.request, secrets).empty());
    // Every cause tried: one line that says so, and what to check next.
    const auto every_hint = explain_mismatch(c.request, secrets, every);
    check_clean(every_hint);
    REQUIRE(every_hint.size() == 1);
    CHECK(every_hint.front().starts_with("no likely cause found: "));
    CHECK(every_hint.front().find("; ") != std::string::npos);
  }
  // Two headers: only every cause looks at them.
  const Request twice{.headers = {{"X-Signature-SHA256", sign(secret, body)},
                                  {"X-Signature-SHA256", sign(secret, body)}},
                      .body = body + "\n"};
  CHECK(explain_mismatch(twice, secrets).empty());
  // No header, a secret of white space alone, no secrets at all: nothing to try, nothing thrown.
  CHECK(explain_mismatch(Request{.body = body}, secrets, every).empty());
  CHECK(explain_mismatch(request_of(body, sign(secret, body)), secrets_of({" \n"})).empty());
  CHECK(explain_mismatch(request_of(body + "\n", sign(secret, body)), {}, every).empty());
}
