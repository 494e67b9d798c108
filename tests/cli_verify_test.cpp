// `tykhook verify` end to end: the built binary, its exit status, stdout and stderr.
#include <doctest/doctest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli_support.h"
#include "tykhook/capture.h"
#include "tykhook/envelope.h"
#include "tykhook/signature.h"
#include "tykhook/timestamp.h"

using namespace tykhook;
using namespace tykhook::test;

namespace {

const std::string secret = "cli-verify-secret";
const std::string body = source_file("samples/bodies/UserRegistered.json");

std::string raw(const std::string& bytes, const std::string& signature,
                const std::string& extra_headers = "", const std::string& eol = "\r\n") {
  return "POST /webhooks HTTP/1.1" + eol + "Host: example.test" + eol +
         "Content-Type: application/json" + eol +
         "Content-Length: " + std::to_string(bytes.size()) + eol +
         "X-Signature-SHA256: " + signature + eol + extra_headers + eol + bytes;
}

std::string raw_signed(const std::string& bytes) { return raw(bytes, sign(secret, bytes)); }

// Verifies one capture given on standard input with --format json and returns the one line.
nlohmann::json verify_json(const std::string& capture, std::vector<std::string> extra = {},
                           int* status = nullptr) {
  std::vector<std::string> args = {"verify", "--secret", secret, "--format", "json"};
  args.insert(args.end(), extra.begin(), extra.end());
  const Run run = run_tykhook(args, capture);
  if (status != nullptr) *status = run.status;
  CAPTURE(run.err);
  REQUIRE(run.out.find('\n') == run.out.size() - 1);
  return nlohmann::json::parse(run.out);
}

}  // namespace

TEST_CASE("every signed sample capture verifies as ok with the demo secret") {
  std::vector<std::string> args = {"verify", "--secret-file",
                                   TYKHOOK_SOURCE_DIR "/samples/demo-secret.txt"};
  int count = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(TYKHOOK_SOURCE_DIR "/samples/captures")) {
    args.push_back(entry.path().string());
    ++count;
  }
  CHECK(count == 13);
  const Run run = run_tykhook(args);
  CAPTURE(run.out);
  CAPTURE(run.err);
  CHECK(run.status == 0);
  CHECK(run.err == "tykhook verify: 13 ok\n");
  std::size_t lines = 0, oks = 0;
  for (std::size_t at = 0; (at = run.out.find('\n', at)) != std::string::npos; ++at) ++lines;
  for (std::size_t at = 0; (at = run.out.find(": ok (", at)) != std::string::npos; ++at) ++oks;
  CHECK(lines == 13);
  CHECK(oks == 13);
}

TEST_CASE("each verdict is reached through the command line, with its exit status") {
  const std::string flipped = [] {
    std::string capture = raw(body, sign(secret, body));
    capture[capture.size() - 20] ^= 0x01;
    return capture;
  }();
  const std::string unknown =
      R"({"Event":"UserDeleted","Message":{},"Timestamp":"2024-04-22T16:38:54.082037+02:00"})";
  const std::string schema_broken =
      R"({"Event":"ApplicationRegistered","Message":{"ID":"1","Name":"New App","UserID":1,)"
      R"("CreatedAt":"2024-04-18T13:29:23.738726+02:00"},"Timestamp":"2024-04-18T13:29:23.744826+02:00"})";
  const struct {
    std::string_view name;
    std::string capture;
    std::vector<std::string> extra;
    std::string_view want;
    std::string_view message;
  } cases[] = {
      {"ok", raw_signed(body), {}, "ok", ""},
      {"not a capture", "hello\n", {}, "malformed_request", "not a capture"},
      {"empty input", "", {}, "malformed_request", "-"},
      {"a body shorter than its Content-Length",
       raw_signed(body).substr(0, 200),
       {},
       "malformed_request",
       "Content-Length"},
      {"over --max-body",
       raw_signed(body),
       {"--max-body", "100"},
       "too_large",
       "over the limit of 100 bytes"},
      {"no signature header", body, {}, "missing_signature", "header missing"},
      {"63 hex digits",
       raw(body, sign(secret, body).substr(1)),
       {},
       "malformed_signature",
       "X-Signature-SHA256"},
      {"one flipped body byte", flipped, {}, "signature_mismatch", "does not match"},
      {"a newline appended to the body after signing",
       raw(body + "\n", sign(secret, body)),
       {},
       "signature_mismatch",
       "does not match"},
      {"authentic but not JSON", raw_signed("{\"Event\":"), {}, "malformed_json", "body byte"},
      {"authentic but no Timestamp",
       raw_signed(R"({"Event":"UserRegistered","Message":{}})"),
       {},
       "invalid_envelope",
       "/Timestamp: missing"},
      {"an unknown event", raw_signed(unknown), {}, "unknown_event", "UserDeleted"},
      {"an unknown event, allowed", raw_signed(unknown), {"--allow-unknown-events"}, "ok", ""},
      {"a Message of the wrong shape",
       raw_signed(schema_broken),
       {},
       "schema_violation",
       "/Message/ID"},
      {"a Message of the wrong shape, schemas off",
       raw_signed(schema_broken),
       {"--no-schema"},
       "ok",
       ""},
      {"older than the tolerance",
       raw_signed(body),
       {"--tolerance", "5m", "--now", "2024-04-22T16:45:00+02:00"},
       "stale",
       "tolerance of 5m"},
      {"within the tolerance",
       raw_signed(body),
       {"--tolerance", "300s", "--now", "2024-04-22T16:43:54.082037+02:00"},
       "ok",
       ""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    int status = -1;
    const auto line = verify_json(c.capture, c.extra, &status);
    CHECK(line.at("verdict") == std::string(c.want));
    CHECK(line.at("ok") == (c.want == "ok"));
    CHECK(status == (c.want == "ok" ? 0 : 1));
    CHECK(line.at("input") == "-");
    if (c.want == "ok") {
      CHECK(line.at("errors").empty());
    } else {
      REQUIRE_FALSE(line.at("errors").empty());
      const std::string first = line.at("errors").at(0);
      CAPTURE(first);
      CHECK(first.find(c.message) != std::string::npos);
    }
  }
}

TEST_CASE(
    "a capture without its signature gets the command line's hint after the verdict's error") {
  const auto line = verify_json(body, {});
  REQUIRE(line.at("errors").size() == 2);
  CHECK(
      line.at("errors").at(0).get<std::string>().starts_with("X-Signature-SHA256: header missing"));
  CHECK(line.at("errors").at(1) ==
        "hint: keep the headers when capturing, or give a bare body's signature with --signature "
        "HEX");
}

TEST_CASE("two copies of one delivery with a store: the second is a duplicate") {
  TempDir dir;
  const auto capture = raw_signed(body);
  const auto first = dir.write("a.http", capture);
  const auto second = dir.write("b.http", capture);
  const Run run = run_tykhook({"verify", "--secret", secret, "--store", "memory:", first, second});
  CHECK(run.status == 1);
  CHECK(run.out == first + ": ok (UserRegistered)\n" + second +
                       ": duplicate (UserRegistered): delivery " +
                       run.out.substr(run.out.find("delivery ") + 9, 16) +
                       "... was seen before; it is not processed again\n");
}

TEST_CASE("the json format prints the contract's fields, null event before the envelope") {
  const auto line = verify_json(raw(body, "00"));
  CHECK(line.is_object());
  CHECK(line.size() == 5);
  CHECK(line.at("event").is_null());
  CHECK(line.at("verdict") == "malformed_signature");
  const auto ok = verify_json(raw_signed(body));
  CHECK(ok.at("event") == "UserRegistered");
}

TEST_CASE("an ok line is the contract's exact bytes; a path that needs escaping is escaped") {
  TempDir dir;
  const auto plain = dir.write("plain.http", raw_signed(body));
  const Run run = run_tykhook({"verify", "--secret", secret, "--format", "json", plain});
  CHECK(run.status == 0);
  CHECK(run.out == R"({"input":")" + plain +
                       R"(","ok":true,"verdict":"ok","event":"UserRegistered","errors":[],)" +
                       R"("secret":{"index":0,"fingerprint":")" +
                       tykhook::fingerprint(tykhook::Secret(secret)) + "\"}}\n");
  // A quote, a backslash and a byte outside ASCII in the name: the line still parses, and
  // names the file as it is.
  const auto odd = dir.write("a\"b\\c-\xc3\xa9.http", raw_signed(body));
  const Run escaped = run_tykhook({"verify", "--secret", secret, "--format", "json", odd});
  CHECK(escaped.status == 0);
  const auto line = nlohmann::json::parse(escaped.out);
  CHECK(line.at("input") == odd);
  CHECK(line.at("verdict") == "ok");
  CHECK(line.at("errors").empty());
}

TEST_CASE("signature headers in each accepted spelling verify, the capture's own header wins") {
  std::string upper = sign(secret, body);
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const struct {
    std::string_view name;
    std::string capture;
    std::vector<std::string> extra;
    std::string_view want;
  } cases[] = {
      {"upper-case hex", raw(body, upper), {}, "ok"},
      {"sha256= prefix", raw(body, "sha256=" + sign(secret, body)), {}, "ok"},
      {"SHA256= prefix", raw(body, "SHA256=" + sign(secret, body)), {}, "ok"},
      {"spaces and tabs around", raw(body, " \t" + sign(secret, body) + "\t "), {}, "ok"},
      {"lower-case header name",
       "POST / HTTP/1.1\r\ncontent-length: " + std::to_string(body.size()) +
           "\r\nx-signature-sha256: " + sign(secret, body) + "\r\n\r\n" + body,
       {},
       "ok"},
      {"bare body with --signature", body, {"--signature", sign(secret, body)}, "ok"},
      {"bare body with a wrong --signature",
       body,
       {"--signature", sign("x", body)},
       "signature_mismatch"},
      {"capture header wins over --signature",
       raw_signed(body),
       {"--signature", sign("x", body)},
       "ok"},
      {"sha1= prefix", raw(body, "sha1=" + sign(secret, body)), {}, "malformed_signature"},
      {"empty value", raw(body, ""), {}, "malformed_signature"},
      {"header twice",
       raw(body, sign(secret, body), "X-Signature-SHA256: " + sign(secret, body) + "\r\n"),
       {},
       "malformed_signature"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(verify_json(c.capture, c.extra).at("verdict") == std::string(c.want));
  }
}

TEST_CASE("every capture format is read: bare LF, chunked, JSON capture and HAR entries") {
  const std::string lf = raw(body, sign(secret, body), "", "\n");
  std::string chunked =
      "POST /hook HTTP/1.1\r\nTransfer-Encoding: chunked\r\nX-Signature-SHA256: " +
      sign(secret, body) + "\r\n\r\n";
  const std::size_t half = body.size() / 2;
  char size_hex[32];
  std::snprintf(size_hex, sizeof size_hex, "%zx", half);
  chunked += std::string(size_hex) + ";ext=1\r\n" + body.substr(0, half) + "\r\n";
  std::snprintf(size_hex, sizeof size_hex, "%zx", body.size() - half);
  chunked += std::string(size_hex) + "\r\n" + body.substr(half) + "\r\n0\r\nX-Trailer: t\r\n\r\n";
  CHECK(verify_json(lf).at("verdict") == "ok");
  CHECK(verify_json(chunked).at("verdict") == "ok");

  nlohmann::json har = {
      {"log",
       {{"version", "1.2"},
        {"entries",
         {{{"request",
            {{"method", "POST"},
             {"url", "http://example.test/webhooks"},
             {"headers", {{{"name", "X-Signature-SHA256"}, {"value", sign(secret, body)}}}},
             {"postData", {{"mimeType", "application/json"}, {"text", body}}}}}},
          {{"request",
            {{"method", "POST"},
             {"url", "http://example.test/webhooks"},
             {"headers", {{{"name", "X-Signature-SHA256"}, {"value", sign("other", body)}}}},
             {"postData", {{"mimeType", "application/json"}, {"text", body}}}}}}}}}}};
  TempDir dir;
  const auto path = dir.write("session.har", har.dump());
  const Run run = run_tykhook({"verify", "--secret", secret, path});
  CHECK(run.status == 1);
  CHECK(run.out.find(path + "#0: ok (UserRegistered)\n") != std::string::npos);
  CHECK(run.out.find(path + "#1: signature_mismatch") != std::string::npos);
  const Run from_stdin = run_tykhook({"verify", "--secret", secret, "-"}, har.dump());
  CHECK(from_stdin.out.find("-#0: ok") == 0);
}

TEST_CASE("secrets come from files, values and the environment, and several mean rotation") {
  TempDir dir;
  const auto crlf_file = dir.write("crlf.txt", secret + "\r\n");
  const auto lf_file = dir.write("lf.txt", secret + "\n");
  const auto two_lines = dir.write("two.txt", secret + "\n\n");
  const auto capture = raw_signed(body);
  const struct {
    std::string_view name;
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    int status;
  } cases[] = {
      {"a secret file with a trailing newline", {"--secret-file", lf_file}, {}, 0},
      {"a secret file with a trailing CRLF", {"--secret-file", crlf_file}, {}, 0},
      {"only one newline is removed", {"--secret-file", two_lines}, {}, 1},
      {"the default variable", {}, {{"PORTAL_WEBHOOKS_SECRET", secret}}, 0},
      {"a named variable", {"--secret-env", "MY_SECRET"}, {{"MY_SECRET", secret}}, 0},
      {"the variable is ignored when --secret is given",
       {"--secret", "wrong"},
       {{"PORTAL_WEBHOOKS_SECRET", secret}},
       1},
      {"rotation: the second of two secrets", {"--secret", "old", "--secret", secret}, {}, 0},
      {"rotation: a file and a value", {"--secret-file", lf_file, "--secret", "new"}, {}, 0},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    std::vector<std::string> args = {"verify"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    std::map<std::string, std::string> env = {{"PORTAL_WEBHOOKS_SECRET", ""}};
    for (const auto& [k, v] : c.env) env[k] = v;
    const Run run = run_tykhook(args, capture, env);
    CAPTURE(run.err);
    CHECK(run.status == c.status);
  }
}

TEST_CASE("secret problems are usage errors that never print the secret") {
  const std::string typed = "s3cr3t-typed-by-mistake";
  TempDir dir;
  const auto empty_file = dir.write("empty.txt", "\n");
  const auto capture = raw_signed(body);
  const struct {
    std::string_view name;
    std::vector<std::string> args;
    std::string_view message;
  } cases[] = {
      {"no secret at all", {}, "--secret-env PORTAL_WEBHOOKS_SECRET: the variable is not set"},
      {"an unset named variable", {"--secret-env", "TYKHOOK_NO_SUCH_VAR"}, "TYKHOOK_NO_SUCH_VAR"},
      {"an empty --secret", {"--secret", ""}, "--secret: empty secret"},
      {"an empty secret file", {"--secret-file", empty_file}, "empty secret"},
      {"a missing secret file", {"--secret-file", "/nonexistent/secret"}, "cannot read"},
      // A secret typed into an option that takes a name is never shown (#20).
      {"NAME=VALUE in --secret-env",
       {"--secret-env", "PORTAL_WEBHOOKS_SECRET=" + typed},
       "--secret-env takes a variable's name, not NAME=VALUE (the value is not shown); export "
       "PORTAL_WEBHOOKS_SECRET in the environment and pass --secret-env PORTAL_WEBHOOKS_SECRET"},
      {"=VALUE alone in --secret-env", {"--secret-env", "=" + typed}, "export NAME"},
      {"a secret in --secret-env", {"--secret-env", typed}, "takes a variable's name"},
      {"a lower-case name that is not set", {"--secret-env", "s3cr3t_typed"}, "not shown"},
      {"a secret in --secret-file", {"--secret-file", typed}, "the name is not shown"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    std::vector<std::string> args = {"verify"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const Run run = run_tykhook(args, capture, {{"PORTAL_WEBHOOKS_SECRET", ""}});
    CAPTURE(run.err);
    CHECK(run.status == 2);
    CHECK(run.out.empty());
    CHECK(run.err.find(c.message) != std::string::npos);
    CHECK(run.err.find("s3cr3t") == std::string::npos);
  }
  // A lower-case name is still a name: it is read, only not shown.
  const Run lower =
      run_tykhook({"verify", "--secret-env", "my_secret"}, capture, {{"my_secret", secret}});
  CHECK(lower.status == 0);
  // One bad secret among good ones: the captures are still verified, the status is 2.
  const Run mixed =
      run_tykhook({"verify", "--secret", secret, "--secret-file", empty_file}, capture);
  CHECK(mixed.status == 2);
  CHECK(mixed.out == "-: ok (UserRegistered)\n");
  CHECK(mixed.err.find(secret) == std::string::npos);
}

TEST_CASE("an unreadable capture is reported, the others are still verified, status 2") {
  TempDir dir;
  const auto good = dir.write("good.http", raw_signed(body));
  const Run run = run_tykhook({"verify", "--secret", secret, "/nonexistent/capture.http", good});
  CHECK(run.status == 2);
  CHECK(run.out == good + ": ok (UserRegistered)\n");
  CHECK(run.err.find("/nonexistent/capture.http: cannot read") != std::string::npos);
}

TEST_CASE("a directory stands for its capture files; several captures end with a summary (#20)") {
  TempDir dir;
  std::filesystem::create_directory(dir.path() / "captures");
  const std::string captures = (dir.path() / "captures").string();
  dir.write("captures/b.http", raw_signed(body));
  dir.write("captures/a.http", raw(body, sign("another secret", body)));
  dir.write("captures/.c.http.tmp", "half a capture");  // an interrupted run's leftover
  const Run run = run_tykhook({"verify", "--secret", secret, captures});
  CAPTURE(run.err);
  CHECK(run.status == 1);
  CHECK(run.out.find(captures + "/a.http: signature_mismatch") == 0);
  CHECK(run.out.find("\n" + captures + "/b.http: ok (UserRegistered)\n") != std::string::npos);
  CHECK(run.out.find(".c.http.tmp") == std::string::npos);
  CHECK(run.err == "tykhook verify: 1 ok, 1 signature_mismatch\n");

  // One capture: no summary.
  const Run one = run_tykhook({"verify", "--secret", secret, captures + "/b.http"});
  CHECK(one.status == 0);
  CHECK(one.err.empty());

  // Nothing to verify in a directory is an error that says so.
  std::filesystem::create_directory(dir.path() / "empty");
  const std::string empty = (dir.path() / "empty").string();
  const Run none = run_tykhook({"verify", "--secret", secret, empty});
  CHECK(none.status == 2);
  CHECK(none.err.find(empty + ": a directory without capture files") != std::string::npos);
}

TEST_CASE("in JSON every input gets an object, the unreadable ones too (#20)") {
  TempDir dir;
  const auto good = dir.write("good.http", raw_signed(body));
  const Run run = run_tykhook(
      {"verify", "--secret", secret, "--format", "json", "/nonexistent/capture.http", good});
  CHECK(run.status == 2);
  std::vector<nlohmann::json> lines;
  std::istringstream out(run.out);
  for (std::string line; std::getline(out, line);) lines.push_back(nlohmann::json::parse(line));
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["input"] == "/nonexistent/capture.http");
  CHECK(lines[0]["ok"] == false);
  CHECK(lines[0]["verdict"].is_null());
  CHECK(lines[0]["event"].is_null());
  CHECK(lines[0]["errors"][0].get<std::string>().find("cannot read") != std::string::npos);
  CHECK(lines[1]["verdict"] == "ok");
  CHECK(run.err.find("tykhook verify: 1 ok, 1 unreadable\n") != std::string::npos);
}

TEST_CASE("a mismatch names a final newline added to the body, or one kept in the secret (#20)") {
  // A bare body saved by an editor, with the signature of the bytes the portal sent.
  const Run newline = run_tykhook(
      {"verify", "--secret", secret, "--signature", sign(secret, body), "-"}, body + "\n");
  CHECK(newline.status == 1);
  CHECK(newline.out.find("-: signature_mismatch: ") == 0);
  CHECK(newline.out.find("\n  hint: the signature matches the body without its final newline") !=
        std::string::npos);
  // The secret from the environment with the newline of the file it was read from.
  const Run kept =
      run_tykhook({"verify"}, raw_signed(body), {{"PORTAL_WEBHOOKS_SECRET", secret + "\n"}});
  CHECK(kept.status == 1);
  CHECK(kept.out.find("hint: the signature matches secret 1 of 1 without the white space") !=
        std::string::npos);
  CHECK(kept.out.find(secret) == std::string::npos);
  // Another secret: no hint.
  const Run other = run_tykhook({"verify", "--secret", "other"}, raw_signed(body));
  CHECK(other.status == 1);
  CHECK(other.out.find("hint:") == std::string::npos);
}

TEST_CASE("--tolerance off turns the check off (#20)") {
  const std::string capture = raw_signed(body);  // a sample of 2024: stale against the clock
  CHECK(verify_json(capture, {"--tolerance", "5m"})["verdict"] == "stale");
  CHECK(verify_json(capture, {"--tolerance", "5m"})["errors"][0].get<std::string>().find(
            "or raise --tolerance (off turns the check off)") != std::string::npos);
  CHECK(verify_json(capture, {"--tolerance", "off"})["verdict"] == "ok");
  const Run bad = run_tykhook({"verify", "--secret", secret, "--tolerance", "of"}, capture);
  CHECK(bad.status == 2);
  CHECK(bad.err.find("\"of\": missing number; use an integer with a unit ms, s, m, h or d (e.g. "
                     "300s, 5m), or off") != std::string::npos);
}

TEST_CASE("--now without --tolerance is a warning, not silence (#20)") {
  const Run run = run_tykhook({"verify", "--secret", secret, "--now", "2024-04-22T16:40:00Z"},
                              raw_signed(body));
  CHECK(run.status == 0);
  CHECK(run.err.find("tykhook verify: --now has no effect without --tolerance") !=
        std::string::npos);
  const Run with = run_tykhook(
      {"verify", "--secret", secret, "--now", "2024-04-22T16:40:00Z", "--tolerance", "5m"},
      raw_signed(body));
  CHECK(with.err.empty());
}

namespace {

// A delivery sent a year ago: the sample body with that Timestamp, and its time.
struct OldDelivery {
  TimePoint sent = std::chrono::time_point_cast<std::chrono::nanoseconds>(Clock::now()) -
                   std::chrono::hours(24 * 365);
  std::string bytes = *with_timestamp(body, sent);

  // As `listen --capture-dir` wrote it, received `delay` after it was sent.
  std::string json_capture(std::chrono::seconds delay = std::chrono::seconds(1)) const {
    const Request request{.method = "POST",
                          .target = "/webhooks",
                          .headers = {{"X-Signature-SHA256", sign(secret, bytes)}},
                          .body = bytes};
    return write_json_capture(request, sent + delay);
  }
  // As a browser or proxy exports it, the request started 1 s after it was sent.
  std::string har() const {
    const nlohmann::json entry = {
        {"startedDateTime", format_rfc3339(sent + std::chrono::seconds(1), 3)},
        {"request",
         {{"method", "POST"},
          {"url", "http://example.test/webhooks"},
          {"headers", {{{"name", "X-Signature-SHA256"}, {"value", sign(secret, bytes)}}}},
          {"postData", {{"mimeType", "application/json"}, {"text", bytes}}}}}};
    return nlohmann::json{{"log", {{"version", "1.2"}, {"entries", {entry}}}}}.dump();
  }
};

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t count = 0;
  for (std::size_t at = 0; (at = text.find(what, at)) != std::string::npos; at += what.size()) {
    ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("--now received checks each capture against the time it records as its arrival (#20)") {
  const OldDelivery old;
  TempDir dir;
  const struct {
    std::string_view name;
    std::string path;
    std::string input;
  } cases[] = {
      {"a tykhook JSON capture", dir.write("old.json", old.json_capture()), ""},
      {"a HAR entry", dir.write("old.har", old.har()), "#0"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const Run clock = run_tykhook(
        {"verify", "--secret", secret, "--tolerance", "5m", "--format", "json", c.path});
    CAPTURE(clock.err);
    CHECK(clock.status == 1);
    const auto stale = nlohmann::json::parse(clock.out);
    CHECK(stale["input"] == c.path + c.input);
    CHECK(stale["verdict"] == "stale");
    REQUIRE(stale["errors"].size() == 2);
    CHECK(stale["errors"][1].get<std::string>().find("hint: the capture records that it was "
                                                     "received at ") == 0);
    CHECK(stale["errors"][1].get<std::string>().find("; add --now received to check the "
                                                     "Timestamp against that time") !=
          std::string::npos);

    const Run received = run_tykhook({"verify", "--secret", secret, "--tolerance", "5m", "--now",
                                      "received", "--format", "json", c.path});
    CHECK(received.status == 0);
    CHECK(received.err == "");
    CHECK(nlohmann::json::parse(received.out)["verdict"] == "ok");
  }
}

TEST_CASE("--now received is stale when a capture arrived long after its Timestamp (#20)") {
  const OldDelivery old;
  const std::string late = old.json_capture(std::chrono::hours(1));
  CHECK(verify_json(late, {"--tolerance", "5m", "--now", "received"}) ==
        nlohmann::json{{"input", "-"},
                       {"ok", false},
                       {"verdict", "stale"},
                       {"event", "UserRegistered"},
                       {"errors",
                        {"/Timestamp: " + format_rfc3339(old.sent) +
                         " is 1h in the past, beyond the tolerance of 5m; check the clocks, or "
                         "raise --tolerance (off turns the check off)"}},
                       {"secret", {{"index", 0}, {"fingerprint", fingerprint(Secret(secret))}}}});
  CHECK(verify_json(late, {"--tolerance", "2h", "--now", "received"})["verdict"] == "ok");
}

TEST_CASE(
    "--now received uses the clock for a capture without an arrival time, and says so (#20)") {
  const OldDelivery old;
  TempDir dir;
  const std::string json = dir.write("a.json", old.json_capture());
  const std::string raw1 = dir.write("b.http", raw_signed(old.bytes));
  const std::string raw2 = dir.write("c.http", raw_signed(old.bytes));
  const Run run = run_tykhook({"verify", "--secret", secret, "--tolerance", "5m", "--now",
                               "received", "--format", "json", json, raw1, raw2});
  CAPTURE(run.out);
  CAPTURE(run.err);
  CHECK(run.status == 1);
  CHECK(count_of(run.err, " records no arrival time") == 2);
  CHECK(count_of(run.err, "tykhook verify: " + raw1 +
                              " records no arrival time; --now received uses the clock for it\n") ==
        1);
  CHECK(count_of(run.err, "tykhook verify: " + raw2 +
                              " records no arrival time; --now received uses the clock for it\n") ==
        1);
  // Standard output keeps one JSON object per capture.
  std::vector<nlohmann::json> lines;
  std::istringstream out(run.out);
  for (std::string line; std::getline(out, line);) lines.push_back(nlohmann::json::parse(line));
  REQUIRE(lines.size() == 3);
  CHECK(lines[0]["verdict"] == "ok");
  for (const std::size_t i : {1, 2}) {
    CAPTURE(i);
    CHECK(lines[i]["verdict"] == "stale");
    // A raw capture records no arrival: the hint offers a time by hand, not --now received.
    REQUIRE(lines[i]["errors"].size() == 2);
    const std::string hint = lines[i]["errors"][1];
    CHECK(hint ==
          "hint: the capture records no arrival time; to check it as of the time it "
          "arrived, give that time, e.g. --now " +
              format_rfc3339(old.sent) + " (its Timestamp)");
  }
  // Without --now received, no note; a stale raw capture gets the same hint.
  const Run clock = run_tykhook({"verify", "--secret", secret, "--tolerance", "5m", raw1});
  CHECK(clock.err == "");
  CHECK(clock.out.find("\n  hint: the capture records no arrival time; ") != std::string::npos);
  CHECK(clock.out.find("--now received") == std::string::npos);
}

TEST_CASE("a malformed received time is still a malformed_request with --now received (#20)") {
  const OldDelivery old;
  std::string capture = old.json_capture();
  const std::string member = "\"received\": \"";
  const auto at = capture.find(member) + member.size();
  capture.replace(at, capture.find('"', at) - at, "yesterday");
  for (const auto& extra :
       std::vector<std::vector<std::string>>{{}, {"--tolerance", "5m", "--now", "received"}}) {
    CAPTURE(extra.size());
    const auto line = verify_json(capture, extra);
    CHECK(line["verdict"] == "malformed_request");
    CHECK(line["errors"][0].get<std::string>().find("-: received: ") == 0);
  }
}

TEST_CASE("--now received without --tolerance is the same warning as --now TIME (#20)") {
  const OldDelivery old;
  const Run run =
      run_tykhook({"verify", "--secret", secret, "--now", "received"}, old.json_capture());
  CHECK(run.status == 0);
  CHECK(run.err ==
        "tykhook verify: --now has no effect without --tolerance or --max-future; add "
        "--tolerance DURATION (e.g. 5m) to check the Timestamp against it\n");
}

TEST_CASE("--max-future bounds a Timestamp ahead of --now apart from --tolerance, both ways") {
  const std::string now_text = "2024-04-24T15:26:04Z";
  const TimePoint now = *parse_rfc3339(now_text);
  using std::chrono::minutes;
  using std::chrono::seconds;
  const struct {
    std::string_view name;
    TimePoint sent;
    std::vector<std::string> options;
    std::string_view want;
    std::string error;  // the first error, whole, when stale
  } cases[] = {
      {"2s ahead, tighter --max-future 2s", now + seconds(2), {"--max-future", "2s"}, "ok", ""},
      {"30s ahead, tighter --max-future 2s",
       now + seconds(30),
       {"--max-future", "2s"},
       "stale",
       " is 30s ahead of now, beyond the limit for times ahead of 2s; check both clocks, or raise "
       "--max-future"},
      {"10m in the past, tighter --max-future 2s",
       now - minutes(10),
       {"--max-future", "2s"},
       "stale",
       " is 10m in the past, beyond the tolerance of 5m; check the clocks, or raise --tolerance "
       "(off turns the check off)"},
      {"30s in the past, tighter --max-future 2s",
       now - seconds(30),
       {"--max-future", "2s"},
       "ok",
       ""},
      {"10m ahead, looser --max-future 1h", now + minutes(10), {"--max-future", "1h"}, "ok", ""},
      {"6m 12s ahead, no --max-future",
       now + minutes(6) + seconds(12),
       {},
       "stale",
       " is 6m 12s ahead of now, beyond the tolerance of 5m; check both clocks, or allow more "
       "with --max-future or --tolerance"},
      {"6m 12s in the past, no --max-future",
       now - minutes(6) - seconds(12),
       {},
       "stale",
       " is 6m 12s in the past, beyond the tolerance of 5m; check the clocks, or raise "
       "--tolerance (off turns the check off)"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const std::string bytes = *with_timestamp(body, c.sent);
    std::vector<std::string> options = {"--tolerance", "5m", "--now", now_text};
    options.insert(options.end(), c.options.begin(), c.options.end());
    const auto line = verify_json(raw_signed(bytes), options);
    CHECK(line["verdict"] == c.want);
    if (c.want != "stale") continue;
    CHECK(line["errors"][0] == "/Timestamp: " + format_rfc3339(c.sent) + c.error);
  }
  // Without --tolerance, --max-future alone checks the future and gives --now its effect.
  const std::string ahead = raw_signed(*with_timestamp(body, now + minutes(1)));
  const Run alone =
      run_tykhook({"verify", "--secret", secret, "--now", now_text, "--max-future", "30s"}, ahead);
  CHECK(alone.status == 1);
  CHECK(alone.err == "");
  CHECK(alone.out.find(": stale (UserRegistered): /Timestamp: ") != std::string::npos);
  const std::string past = raw_signed(*with_timestamp(body, now - minutes(60)));
  CHECK(verify_json(past, {"--now", now_text, "--max-future", "30s"})["verdict"] == "ok");
  const Run bad = run_tykhook({"verify", "--secret", secret, "--max-future", "soon"}, ahead);
  CHECK(bad.status == 2);
  CHECK(bad.err.find("--max-future") != std::string::npos);
  CHECK(bad.err.find("\"soon\": missing number; use an integer with a unit ms, s, m, h or d") !=
        std::string::npos);
}

TEST_CASE("--max-body takes K, M and G, and holds a body to the limit it names (#20)") {
  const std::string capture = raw_signed(body);
  const struct {
    std::string limit;
    std::string_view want;
  } cases[] = {
      {std::to_string(body.size()), "ok"},
      {std::to_string(body.size() - 1), "too_large"},
      {"1K", body.size() <= 1024 ? "ok" : "too_large"},
      {"1M", "ok"},
      {"1MiB", "ok"},
      {"256M", "ok"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.limit);
    const auto line = verify_json(capture, {"--max-body", c.limit});
    CHECK(line["verdict"] == std::string(c.want));
  }
}

TEST_CASE("bad options are usage errors with exit status 2") {
  const struct {
    std::string_view name;
    std::vector<std::string> args;
    std::string_view message;
  } cases[] = {
      {"a bad duration", {"--tolerance", "5x"}, "5x"},
      {"a negative duration", {"--tolerance", "-5m"}, "-5m"},
      {"a bad --now", {"--now", "yesterday"}, "yesterday"},
      {"an unknown format", {"--format", "xml"}, "xml"},
      {"a zero --max-body",
       {"--max-body", "0"},
       "--max-body: \"0\": a limit of 0 accepts no delivery; give 1 byte to 256M, e.g. 1048576, "
       "512K or 1M"},
      {"a --max-body over the largest", {"--max-body", "1G"}, "\"1G\": over the largest limit"},
      {"a --max-body of 300 digits", {"--max-body", std::string(300, '9')}, "over the largest"},
      {"a --max-body in an unknown unit", {"--max-body", "1T"}, "unknown unit \"T\" (K, M or G)"},
      {"a --max-body without a number", {"--max-body", "M"}, "\"M\": not a byte count"},
      {"a bad store", {"--store", "nope:"}, "nope:"},
      {"a store type without its colon", {"--store", "memory"}, "e.g. memory:"},
      {"an unknown option", {"--frobnicate"}, "frobnicate"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    std::vector<std::string> args = {"verify", "--secret", secret};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const Run run = run_tykhook(args, raw_signed(body));
    CAPTURE(run.err);
    CHECK(run.status == 2);
    CHECK(run.err.find(c.message) != std::string::npos);
  }
}

TEST_CASE("hostile captures get a verdict and a message, never a crash or a hang") {
  const std::string nul_body = std::string("{\"Event\":\"A\0B\"}", 16);
  const struct {
    std::string_view name;
    std::string capture;
    std::string_view want;
  } cases[] = {
      {"100 000 levels of nesting", raw_signed(std::string(100000, '[')), "malformed_json"},
      {"a 2 MiB body", raw_signed(std::string(2 * 1024 * 1024, 'x')), "too_large"},
      {"NUL bytes in the body", raw_signed(nul_body), "malformed_json"},
      {"invalid UTF-8", raw_signed("{\"Event\":\"\xff\xfe\"}"), "malformed_json"},
      {"a 1 MiB header line",
       raw(body, sign(secret, body), "X-Long: " + std::string(1 << 20, 'a') + "\r\n"),
       "malformed_request"},
      {"binary noise", std::string("\x00\x01\x02\xff\xfe", 5), "malformed_request"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    int status = -1;
    const auto line = verify_json(c.capture, {}, &status);
    CHECK(line.at("verdict") == std::string(c.want));
    CHECK(status == 1);
    CHECK_FALSE(line.at("errors").empty());
  }
}

TEST_CASE("--help lists every option and --version prints the version") {
  const Run help = run_tykhook({"verify", "--help"});
  CHECK(help.status == 0);
  for (const auto* option :
       {"--secret-file", "--secret", "--secret-env", "--signature", "--tolerance", "--now",
        "--no-schema", "--allow-unknown-events", "--max-body", "--store", "--format"}) {
    CAPTURE(option);
    CHECK(help.out.find(option) != std::string::npos);
  }
  // Value labels read as words, not as the parser's types (#20).
  for (const std::string command : {"verify", "listen", "send"}) {
    CAPTURE(command);
    const Run text = run_tykhook({command, "--help"});
    CHECK(text.status == 0);
    CHECK(text.out.find("TEXT:") == std::string::npos);
    CHECK(text.out.find("INT in") == std::string::npos);
    CHECK(text.out.find("POSITIVE") == std::string::npos);
  }
  CHECK(help.out.find("--format FORMAT=text") != std::string::npos);
  const Run version = run_tykhook({"--version"});
  CHECK(version.status == 0);
  CHECK(version.out.starts_with("tykhook 0.1.0\nbuilt with OpenSSL "));
  for (const auto* library :
       {"SQLite ", "hiredis ", "simdjson ", "nlohmann/json ", "CLI11 ", "cpp-httplib "}) {
    CAPTURE(library);
    CHECK(version.out.find(library) != std::string::npos);
  }
  const Run nothing = run_tykhook({});
  CHECK(nothing.status == 2);
}

TEST_CASE("a word not understood is named, with the nearest command, action or option (#20)") {
  const std::string commands =
      "the commands: verify, sign, schema, example, listen, send, work, replay, probe, queue, "
      "secret, completion";
  const struct {
    std::vector<std::string> args;
    std::string err;
  } cases[] = {
      {{"verfy"},
       "tykhook: \"verfy\" is not a command (did you mean verify?); " + commands +
           "; see tykhook --help\n"},
      {{}, "tykhook: no command given; " + commands + "; see tykhook --help\n"},
      {{"frobnicate"},
       "tykhook: \"frobnicate\" is not a command; " + commands + "; see tykhook --help\n"},
      {{"schema", "lst"},
       "tykhook schema: \"lst\" is not an action (did you mean list?); the actions: list, show, "
       "validate; see tykhook schema --help\n"},
      {{"schema"},
       "tykhook schema: no action given; the actions: list, show, validate; see tykhook schema "
       "--help\n"},
      {{"verify", "--secert-file", "x"},
       "tykhook verify: \"--secert-file\" is not an option of tykhook verify (did you mean "
       "--secret-file?); see tykhook verify --help\n"},
      // After a flag (which takes no value), the next word is read as an option again.
      {{"verify", "--no-schema", "--secert-file", "x"},
       "tykhook verify: \"--secert-file\" is not an option of tykhook verify (did you mean "
       "--secret-file?); see tykhook verify --help\n"},
      {{"verify", "--format", "xml"},
       "tykhook verify: --format: xml not in {text,json}; see tykhook verify --help\n"},
      {{"listen", "--prot", "0"},
       "tykhook listen: \"--prot\" is not an option of tykhook listen (did you mean --port?); "
       "see tykhook listen --help\n"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.args.empty() ? std::string() : c.args.front());
    const Run run = run_tykhook(c.args);
    CHECK(run.status == 2);
    CHECK(run.out.empty());
    CHECK(run.err == c.err);
  }
  // `help` is --help, for the program and for a command.
  const Run help = run_tykhook({"help"});
  CHECK(help.status == 0);
  CHECK(help.out.find("Subcommands:") != std::string::npos);
  const Run verify_help = run_tykhook({"help", "verify"});
  CHECK(verify_help.status == 0);
  CHECK(verify_help.out.find("--secret-file") != std::string::npos);
}
