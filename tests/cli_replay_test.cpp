// `tykhook replay` end to end: the built binary sends captures of every format to a real
// `tykhook listen`, and to a stand-in application that records the bytes it got.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli_support.h"
#include "support/application.h"
#include "tykhook/capture.h"
#include "tykhook/envelope.h"
#include "tykhook/events.h"
#include "tykhook/signature.h"
#include "tykhook/verifier.h"

using namespace tykhook::test;
namespace fs = std::filesystem;

namespace {

const std::string secret = "cli-replay-secret-7d02b";

// A `tykhook listen` on a free port with `secret` and a memory store, stopped at destruction.
struct Listener : Listening {
  explicit Listener(const std::vector<std::string>& extra = {},
                    const std::string& store = "memory:")
      : Listening(secret, extra, store) {}
};

tykhook::TimePoint now() {
  return std::chrono::time_point_cast<std::chrono::nanoseconds>(tykhook::Clock::now());
}

// The sample body of `event` with its Timestamp set to now: a delivery the portal sends now.
std::string fresh_body(tykhook::Event event) {
  const auto stamped = tykhook::with_timestamp(*tykhook::sample_body(event), now());
  REQUIRE(stamped);
  return *stamped;
}

// `body` as the portal sends it, signed with `key`.
tykhook::Request delivery(const std::string& body, const std::string& key = secret,
                          const std::string& method = "POST") {
  return {.method = method,
          .target = "/portal/target",
          .headers = {{"Content-Type", "application/json"},
                      {"X-Signature-SHA256", tykhook::sign(key, body)}},
          .body = body};
}

// A HAR 1.2 file with one entry per request.
std::string har_of(const std::vector<tykhook::Request>& requests) {
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& request : requests) {
    nlohmann::json headers = nlohmann::json::array();
    for (const auto& header : request.headers) {
      headers.push_back({{"name", header.name}, {"value", header.value}});
    }
    entries.push_back({{"startedDateTime", "2024-04-24T15:26:04.329Z"},
                       {"request",
                        {{"method", request.method},
                         {"url", "http://example.com" + request.target},
                         {"httpVersion", "HTTP/1.1"},
                         {"headers", headers},
                         {"postData", {{"mimeType", "application/json"}, {"text", request.body}}}}},
                       {"response", {{"status", 200}}}});
  }
  return nlohmann::json{{"log", {{"version", "1.2"}, {"entries", entries}}}}.dump();
}

Run replay(const std::vector<std::string>& args,
           const std::map<std::string, std::string>& env = {{"PORTAL_WEBHOOKS_SECRET", ""}}) {
  std::vector<std::string> all = {"replay"};
  all.insert(all.end(), args.begin(), args.end());
  return run_tykhook(all, "", env);
}

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("a capture replayed as it is: duplicate where it was received, ok on a fresh receiver") {
  TempDir dir;
  const std::string body = fresh_body(tykhook::Event::UserRegistered);
  const std::string capture = dir.write("hook.http", tykhook::write_raw_capture(delivery(body)));
  Listener first;
  REQUIRE(replay({capture, "--to", first.url()}).status == 0);
  const Run again = replay({capture, "--to", first.url()});
  CAPTURE(again.err);
  CHECK(again.status == 0);  // 200: the receiver has it
  CHECK(again.out.starts_with(capture + ": POST -> HTTP 200 OK, verdict duplicate, "));
  CHECK(again.out.ends_with("ms\n"));
  CHECK(again.err.empty());

  Listener fresh;
  const Run run = replay({capture, "--to", fresh.url()});
  CHECK(run.status == 0);
  CHECK(run.out.starts_with(capture + ": POST -> HTTP 200 OK, verdict ok, "));
}

TEST_CASE("the receiver gets the capture's method, exact body, Content-Type and own signature") {
  TempDir dir;
  Application app;
  app.start();
  // Bytes that re-serialising would change: Go's escapes, and no final newline.
  const std::string body =
      R"({"Event":"OrganisationRegistered","Message":{"ID":1,"Name":"\u003cb\u003eA\u0026B"},)"
      R"("Timestamp":"2024-04-22T16:38:54.082037+02:00"})";
  tykhook::Request request = delivery(body, "the-portal's-own", "PUT");
  request.headers[0].value = "application/json; charset=utf-8";
  request.headers.push_back({"X-Portal-Token", "not replayed"});
  const std::string capture = dir.write("hook.json", tykhook::write_json_capture(request, now()));
  const Run run = replay({capture, "--to", app.url("/app"), "--header", "X-Extra: yes"});
  CAPTURE(run.err);
  CHECK(run.status == 0);
  CHECK(run.out.starts_with(capture + ": PUT -> HTTP 200 OK, "));  // no verdict: not tykhook
  CHECK(!contains(run.out, "verdict"));
  const auto received = app.received();
  REQUIRE(received.size() == 1);
  CHECK(received[0].method == "PUT");
  CHECK(received[0].path == "/app");
  CHECK(received[0].body == body);
  CHECK(received[0].header("X-Signature-SHA256") == tykhook::sign("the-portal's-own", body));
  CHECK(received[0].header("Content-Type") == "application/json; charset=utf-8");
  CHECK(received[0].header("X-Extra") == "yes");
  CHECK(received[0].header("X-Portal-Token").empty());
}

TEST_CASE("--fresh-timestamp makes a stale capture ok; as it is, it stays stale") {
  TempDir dir;
  // The documented sample, with its Timestamp of 2024: far outside listen's 5 minutes.
  const std::string body = source_file("samples/bodies/PasswordReset.json");
  const std::string capture = dir.write("old.http", tykhook::write_raw_capture(delivery(body)));
  Listener listener;
  const Run as_is = replay({capture, "--to", listener.url()});
  CHECK(as_is.status == 1);
  CHECK(as_is.out.starts_with(capture + ": POST -> HTTP 401 Unauthorized, verdict stale, "));
  CHECK(as_is.err ==
        "tykhook replay: 0 of 1 answered 2xx; not: " + capture + " (HTTP 401, stale)\n");

  const Run renewed = replay({capture, "--to", listener.url(), "--fresh-timestamp"},
                             {{"PORTAL_WEBHOOKS_SECRET", secret}});
  CAPTURE(renewed.err);
  CHECK(renewed.status == 0);
  CHECK(renewed.out.starts_with(capture + ": POST -> HTTP 200 OK, verdict ok, "));
  CHECK(!contains(renewed.out + renewed.err, secret));
}

TEST_CASE("--resign signs with the configured secret, not the one the capture was signed with") {
  TempDir dir;
  const std::string body = fresh_body(tykhook::Event::PasswordReset);
  const std::string capture =
      dir.write("hook.http", tykhook::write_raw_capture(delivery(body, "an-older-secret")));
  Listener listener;
  const Run as_is = replay({capture, "--to", listener.url()});
  CHECK(as_is.status == 1);
  CHECK(contains(as_is.out, "HTTP 401 Unauthorized, verdict signature_mismatch"));
  const Run resigned = replay({capture, "--to", listener.url(), "--resign", "--secret", secret});
  CHECK(resigned.status == 0);
  CHECK(contains(resigned.out, "HTTP 200 OK, verdict ok"));
  CHECK(!contains(resigned.out + resigned.err, secret));
}

TEST_CASE("each entry of a HAR file is replayed and reported as PATH#N") {
  TempDir dir;
  const std::string har = dir.write(
      "portal.har",
      har_of({delivery(fresh_body(tykhook::Event::UserRegistered)),
              delivery(fresh_body(tykhook::Event::AccessRequestCreated), secret, "PUT")}));
  Listener listener;
  const Run run = replay({har, "--to", listener.url()});
  CAPTURE(run.err);
  CHECK(run.status == 0);
  std::istringstream lines(run.out);
  std::string line;
  REQUIRE(std::getline(lines, line));
  CHECK(line.starts_with(har + "#0: POST -> HTTP 200 OK, verdict ok, "));
  REQUIRE(std::getline(lines, line));
  CHECK(line.starts_with(har + "#1: PUT -> HTTP 200 OK, verdict ok, "));
  CHECK(!std::getline(lines, line));
  CHECK(run.err == "tykhook replay: 2 of 2 answered 2xx\n");
  // The receiver logged one PUT: the entry's own method.
  bool put = false;
  for (int i = 0; i < 2; ++i) {
    const auto logged = listener.process().next_error_line();
    REQUIRE(logged);
    put = put || contains(*logged, " PUT /hook AccessRequestCreated ok 200 ");
  }
  CHECK(put);
}

TEST_CASE("a delivery that queue export wrote is replayed to another receiver") {
  TempDir dir;
  const std::string store = "sqlite:" + (dir.path() / "queue.db").string();
  const std::string body = fresh_body(tykhook::Event::ApplicationRegistered);
  {
    Listener queueing({"--exec", "true"}, store);
    const std::string capture = dir.write("sent.http", tykhook::write_raw_capture(delivery(body)));
    REQUIRE(replay({capture, "--to", queueing.url()}).status == 0);
  }
  const Run exported =
      run_tykhook({"queue", "export", "--store", store, tykhook::idempotency_key(body)});
  REQUIRE(exported.status == 0);
  const std::string capture = dir.write("exported.json", exported.out);
  Listener other;
  const Run run = replay({capture, "--to", other.url()});
  CAPTURE(run.err);
  CHECK(run.status == 0);
  CHECK(run.out.starts_with(capture + ": POST -> HTTP 200 OK, verdict ok, "));
}

TEST_CASE("--format json prints one object per capture, those not sent too") {
  TempDir dir;
  const std::string good = dir.write(
      "good.http",
      tykhook::write_raw_capture(delivery(fresh_body(tykhook::Event::UserAccountActivated))));
  const std::string missing = dir.file("missing.http");
  Listener listener;
  const Run run = replay({good, missing, "--to", listener.url(), "--format", "json"});
  CHECK(run.status == 2);
  const auto lines = json_lines(run.out);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["input"] == good);
  CHECK(lines[0]["ok"] == true);
  CHECK(lines[0]["method"] == "POST");
  CHECK(lines[0]["status"] == 200);
  CHECK(lines[0]["verdict"] == "ok");
  CHECK(lines[0]["ms"].is_number());
  CHECK(lines[0]["error"].is_null());
  CHECK(lines[1]["input"] == missing);
  CHECK(lines[1]["ok"] == false);
  CHECK(lines[1]["method"].is_null());
  CHECK(lines[1]["status"].is_null());
  CHECK(lines[1]["verdict"].is_null());
  CHECK(lines[1]["ms"].is_null());
  CHECK(contains(lines[1]["error"].get<std::string>(), missing + ": cannot read"));
}

TEST_CASE("bad captures are each named with the fix, and the others are still replayed") {
  TempDir dir;
  Listener listener;
  const std::string good =
      dir.write("good.http",
                tykhook::write_raw_capture(delivery(fresh_body(tykhook::Event::UserRegistered))));
  const tykhook::Request not_json = delivery("this is not JSON");
  const struct {
    std::string_view name;
    std::string capture;
    std::vector<std::string> options;
    std::string message;
  } cases[] = {
      {"a missing file", dir.file("missing.http"), {}, "missing.http: cannot read: "},
      {"a file that is not a capture",
       dir.write("notes.txt", "remember the milk\n"),
       {},
       "notes.txt:1: not a capture; "},
      {"a bare body, which has no signature of its own",
       dir.write("body.json", fresh_body(tykhook::Event::UserRegistered)),
       {},
       "body.json: no X-Signature-SHA256 header of its own to send (a bare body has none); add "
       "--resign to sign it with the configured secret"},
      {"a body that is not JSON, with --fresh-timestamp",
       dir.write("text.http", tykhook::write_raw_capture(not_json)),
       {"--fresh-timestamp", "--secret", secret},
       "text.http: --fresh-timestamp: body: no top-level \"Timestamp\" string"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    std::vector<std::string> args = {c.capture, good, "--to", listener.url()};
    args.insert(args.end(), c.options.begin(), c.options.end());
    const Run run = replay(args);
    CAPTURE(run.err);
    CHECK(run.status == 2);
    CHECK(contains(run.err, "tykhook replay: "));
    CHECK(contains(run.err, c.message));
    CHECK(run.out.starts_with(good + ": POST -> HTTP 200 OK, verdict "));
    CHECK(contains(run.err, "1 of 2 answered 2xx; not: " + c.capture));
    CHECK(!contains(run.out + run.err, secret));
  }
}

TEST_CASE("usage errors exit 2 before anything is sent, naming what to fix") {
  TempDir dir;
  Application app;
  app.start();
  const std::string capture =
      dir.write("hook.http",
                tykhook::write_raw_capture(delivery(fresh_body(tykhook::Event::UserRegistered))));
  const struct {
    std::string_view name;
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {"no --to", {capture}, "--to is required"},
      {"no capture", {"--to", app.url()}, "captures is required"},
      {"--resign without a secret",
       {capture, "--to", app.url(), "--resign"},
       "tykhook replay: --resign signs with the configured secret: --secret-env "
       "PORTAL_WEBHOOKS_SECRET: the variable is not set"},
      {"--fresh-timestamp with an empty secret",
       {capture, "--to", app.url(), "--fresh-timestamp", "--secret", ""},
       "tykhook replay: --fresh-timestamp signs with the configured secret: "},
      {"a URL without a scheme",
       {capture, "--to", "127.0.0.1:9"},
       "--to \"127.0.0.1:9\": missing scheme"},
      {"a header without a colon",
       {capture, "--to", app.url(), "--header", "X-Token s3cr3t-value"},
       "tykhook replay: --header: no colon"},
      {"a bad --timeout", {capture, "--to", app.url(), "--timeout", "5x"}, "unknown unit"},
      {"a bad --format", {capture, "--to", app.url(), "--format", "xml"}, "xml"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const Run run = replay(c.args);
    CAPTURE(run.err);
    CHECK(run.status == 2);
    CHECK(run.out.empty());
    CHECK(contains(run.err, c.message));
    CHECK(!contains(run.err, "s3cr3t-value"));
  }
  CHECK(app.count() == 0);
}

TEST_CASE("a receiver that cannot be reached, or never answers, is named; exit status 2") {
  TempDir dir;
  const std::string capture =
      dir.write("hook.http",
                tykhook::write_raw_capture(delivery(fresh_body(tykhook::Event::UserRegistered))));
  const Run refused = replay({capture, "--to", "http://127.0.0.1:1/"});
  CHECK(refused.status == 2);
  CHECK(refused.out.empty());
  CHECK(contains(refused.err, "tykhook replay: " + capture +
                                  ": http://127.0.0.1:1/: cannot connect: Connection refused; is "
                                  "the receiver running?\n"));
  CHECK(contains(refused.err, "0 of 1 answered 2xx; not: " + capture + " (no answer)"));

  // A socket that listens but never accepts: the kernel completes the connection, and nothing
  // is ever read or answered.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(fd, 4) == 0);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/";
  const auto started = std::chrono::steady_clock::now();
  const Run silent = replay({capture, "--to", url, "--timeout", "300ms"});
  const auto took = std::chrono::steady_clock::now() - started;
  ::close(fd);
  CHECK(silent.status == 2);
  CHECK(contains(silent.err, ": no response within --timeout 300ms"));
  CHECK(took < std::chrono::seconds(5));
}
