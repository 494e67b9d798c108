// `tykhook verify --explain` end to end: the likely causes of a signature failure, as text and
// JSON, from the built binary; the verdict and the exit status stay those of the failure.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_support.h"
#include "tykhook/signature.h"

using namespace tykhook;
using namespace tykhook::test;

namespace {

const std::string secret = "cli-explain-secret";
const std::string body = source_file("samples/bodies/UserRegistered.json");
const std::string pretty = nlohmann::ordered_json::parse(body).dump(2);

std::string raw(const std::string& bytes, const std::string& signature) {
  return "POST /webhooks HTTP/1.1\r\nHost: example.test\r\nContent-Type: application/json\r\n"
         "Content-Length: " +
         std::to_string(bytes.size()) + "\r\nX-Signature-SHA256: " + signature + "\r\n\r\n" + bytes;
}

// Runs verify on one capture from standard input, and checks what no output may hold: the
// secret, the signature of the body or of the capture's body, or (unless the capture is
// authentic, when --format json names the secret that matched) a secret's fingerprint.
Run verify(const std::string& capture, std::vector<std::string> extra) {
  std::vector<std::string> args = {"verify"};
  args.insert(args.end(), extra.begin(), extra.end());
  const Run run = run_tykhook(args, capture);
  CAPTURE(run.out);
  CAPTURE(run.err);
  std::vector<std::string> hidden = {secret, sign(secret, body), sign(secret, pretty)};
  if (run.status != 0) hidden.push_back(fingerprint(Secret(secret)));
  for (const std::string& output : {run.out, run.err}) {
    for (const std::string& value : hidden) CHECK(output.find(value) == std::string::npos);
  }
  return run;
}

nlohmann::json json_line(const Run& run) {
  REQUIRE(!run.out.empty());
  REQUIRE(run.out.find('\n') == run.out.size() - 1);
  return nlohmann::json::parse(run.out);
}

}  // namespace

TEST_CASE("--explain names a pretty-printed body in text; the verdict stays signature_mismatch") {
  const std::string capture = raw(pretty, sign(secret, body));
  const Run run = verify(capture, {"--secret", secret, "--explain"});
  CHECK(run.status == 1);
  CHECK(run.out.starts_with("-: signature_mismatch: X-Signature-SHA256: does not match"));
  CHECK(run.out.find("\n  hint: the signature matches the body re-encoded (compact, as the portal "
                     "writes it, instead of pretty-printed) (under secret 1 of 1): a tool parsed "
                     "the body and wrote it again after signing") != std::string::npos);
  CHECK(run.err.empty());

  // Without --explain, only the quick causes are tested: none of them fits.
  const Run quick = verify(capture, {"--secret", secret});
  CHECK(quick.status == 1);
  CHECK(quick.out.starts_with("-: signature_mismatch: "));
  CHECK(quick.out.find("hint:") == std::string::npos);
}

TEST_CASE("--explain --format json puts the hints in a hints array, apart from the errors") {
  const Run run = verify(raw(pretty, sign(secret, body)),
                         {"--secret", secret, "--explain", "--format", "json"});
  CHECK(run.status == 1);
  const auto line = json_line(run);
  CHECK(line["verdict"] == "signature_mismatch");
  CHECK(line["ok"] == false);
  CHECK(line["event"].is_null());
  REQUIRE(line["errors"].size() == 1);
  CHECK(line["errors"][0].get<std::string>().starts_with("X-Signature-SHA256: does not match"));
  REQUIRE(line["hints"].size() == 1);
  CHECK(line["hints"][0].get<std::string>().starts_with(
      "the signature matches the body re-encoded (compact"));

  // The quick hints that verify always prints go there too, without "hint: ".
  const Run newline =
      verify(raw(body + "\n", sign(secret, body)), {"--secret", secret, "--format", "json"});
  const auto quick = json_line(newline);
  CHECK(quick["verdict"] == "signature_mismatch");
  REQUIRE(quick["errors"].size() == 1);
  REQUIRE(quick["hints"].size() == 1);
  CHECK(quick["hints"][0].get<std::string>().starts_with(
      "the signature matches the body without its final newline (under secret 1 of 1)"));

  // A verdict without hints has no hints member: the line of an ok capture is unchanged.
  const auto ok = json_line(
      verify(raw(body, sign(secret, body)), {"--secret", secret, "--explain", "--format", "json"}));
  CHECK(ok["verdict"] == "ok");
  CHECK(!ok.contains("hints"));
  CHECK(ok["secret"]["fingerprint"] == fingerprint(Secret(secret)));
}

TEST_CASE("--explain with no cause that fits says so, and what to check next") {
  const std::string capture = raw(body, sign("the portal's other secret", body));
  const Run text = verify(capture, {"--secret", secret, "--explain"});
  CHECK(text.status == 1);
  CHECK(text.out.find("\n  hint: no likely cause found: ") != std::string::npos);
  CHECK(text.out.find("check that a configured secret is the portal's current one") !=
        std::string::npos);
  const auto line =
      json_line(verify(capture, {"--secret", secret, "--explain", "--format", "json"}));
  CHECK(line["verdict"] == "signature_mismatch");
  REQUIRE(line["hints"].size() == 1);
  CHECK(line["hints"][0].get<std::string>().starts_with("no likely cause found: "));
}

TEST_CASE("--explain names a quoted header; the verdict stays malformed_signature") {
  const std::string capture = raw(body, "\"" + sign(secret, body) + "\"");
  const Run run = verify(capture, {"--secret", secret, "--explain"});
  CHECK(run.status == 1);
  CHECK(run.out.starts_with("-: malformed_signature: "));
  CHECK(run.out.find("\n  hint: X-Signature-SHA256's value is in quotes, and the signature in it "
                     "matches the body (under secret 1 of 1)") != std::string::npos);
  // Without --explain a malformed header gets its error alone, as before.
  CHECK(verify(capture, {"--secret", secret}).out.find("hint:") == std::string::npos);
}

TEST_CASE("--explain names a secret file with white space, or a fingerprint given as a secret") {
  TempDir dir;
  // One trailing newline is removed from a secret file; a second one, or a space, stays.
  for (const std::string& kept : {secret + "\n\n", " " + secret + "\n"}) {
    const std::string file = dir.write("secret.txt", kept);
    const Run run = verify(raw(body, sign(secret, body)), {"--secret-file", file, "--explain"});
    CHECK(run.status == 1);
    CHECK(run.out.find("\n  hint: the signature matches secret 1 of 1 without the white space "
                       "around it") != std::string::npos);
  }
  const std::string secret_file = dir.write("portal.txt", secret + "\n");
  const std::string print_file = dir.write("copied.txt", fingerprint(Secret(secret)) + "\n");
  const Run run = verify(raw(body, sign("the new secret", body)),
                         {"--secret-file", secret_file, "--secret-file", print_file, "--explain"});
  CHECK(run.status == 1);
  CHECK(run.out.find("\n  hint: secret 2 of 2 is the fingerprint of secret 1 of 2, not a secret: "
                     "you may have copied the fingerprint instead of the secret") !=
        std::string::npos);
}
