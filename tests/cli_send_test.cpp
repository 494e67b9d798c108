// `tykhook send` end to end: the built binary against `tykhook listen` and plain sockets.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_support.h"
#include "tykhook/verifier.h"

using namespace tykhook::test;
namespace fs = std::filesystem;

namespace {

const std::string secret = "cli-send-secret-31c8e";

// A `tykhook listen` on a free port with `secret`, stopped at destruction.
struct Listener : Listening {
  explicit Listener(const std::vector<std::string>& extra = {}) : Listening(secret, extra) {}
};

Run send(const std::vector<std::string>& args,
         const std::map<std::string, std::string>& env = {{"TYKHOOK_SEND_SECRET", secret}}) {
  std::vector<std::string> all = {"send", "--secret-env", "TYKHOOK_SEND_SECRET"};
  all.insert(all.end(), args.begin(), args.end());
  return run_tykhook(all, "", env);
}

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t found = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++found;
  return found;
}

}  // namespace

TEST_CASE("send --event prints the status, the verdict and the body, and exits 0 on 2xx") {
  Listener listener;
  const Run run = send({"--to", listener.url(), "--event", "UserRegistered"});
  CAPTURE(run.err);
  CHECK(run.status == 0);
  CHECK(run.err.empty());
  CHECK(run.out ==
        "UserRegistered: HTTP 200 OK\n"
        "X-Tykhook-Verdict: ok\n"
        "{\"verdict\":\"ok\",\"event\":\"UserRegistered\"}\n");
  // An alias is sent under the wire name, as the portal sends it.
  const Run alias = send({"--to", listener.url(), "--event", "OrganizationRegistered"});
  CHECK(alias.status == 0);
  CHECK(alias.out.starts_with("OrganisationRegistered: HTTP 200 OK\n"));
}

TEST_CASE("each sample is sent with a fresh Timestamp, so sending it again is a new delivery") {
  Listener listener;
  for (int attempt = 0; attempt < 2; ++attempt) {
    CAPTURE(attempt);
    const Run run = send({"--to", listener.url(), "--event", "PasswordReset"});
    CHECK(run.status == 0);
    CHECK(run.out.find("X-Tykhook-Verdict: ok\n") != std::string::npos);
  }
}

TEST_CASE("send --all sends every event once, skips RegisterInvite and says so") {
  Listener listener;
  const Run run = send({"--to", listener.url(), "--all"});
  CHECK(run.status == 0);
  CHECK(count(run.out, ": HTTP 200 OK\n") == 13);
  CHECK(count(run.out, "X-Tykhook-Verdict: ok\n") == 13);
  CHECK(run.out.find("RegisterInvite") == std::string::npos);
  CHECK(run.err ==
        "tykhook send: RegisterInvite: skipped; the portal documents no payload for it\n"
        "tykhook send: 13 of 13 deliveries answered 2xx\n");
}

TEST_CASE("a delivery that the receiver refuses makes send exit 1") {
  Listener listener;
  const Run run = send({"--to", listener.url(), "--event", "UserRegistered"},
                       {{"TYKHOOK_SEND_SECRET", "another-secret-16-bytes-or-more"}});
  CHECK(run.status == 1);
  CHECK(
      run.out.starts_with("UserRegistered: HTTP 401 Unauthorized\nX-Tykhook-Verdict: "
                          "signature_mismatch\n"));
  CHECK(run.out.find("another-secret-16-bytes-or-more") == std::string::npos);
  CHECK(run.err.empty());
}

TEST_CASE("send --all exits 1 when any answer is not 2xx") {
  Listener listener({"--require-header", "X-Portal-Token: t"});
  const Run run = send({"--to", listener.url(), "--all"});
  CHECK(run.status == 1);
  CHECK(count(run.out, "X-Tykhook-Verdict: rejected\n") == 13);
  CHECK(run.err.find("0 of 13 deliveries answered 2xx") != std::string::npos);
}

TEST_CASE("send --body sends the file's bytes exactly as they are") {
  TempDir dir;
  const auto captures = dir.path() / "captures";
  Listener listener({"--capture-dir", captures.string(), "--no-schema", "--tolerance", "100000h"});
  const std::string body =
      R"({"Event":"OrganisationRegistered","Message":{"ID":1,"Name":"\u003cb\u003eA\u0026B"},)"
      R"("Timestamp":"2024-04-22T16:38:54.082037+02:00"})";
  const Run run = send({"--to", listener.url(), "--body", dir.write("body.json", body)});
  CAPTURE(run.err);
  CHECK(run.status == 0);
  CHECK(run.out.find("X-Tykhook-Verdict: ok\n") != std::string::npos);
  // The capture is named by the SHA-256 of the bytes received: those of the file.
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(captures)) {
    names.push_back(entry.path().filename().string());
  }
  REQUIRE(names.size() == 1);
  CHECK(names[0].find("-" + tykhook::idempotency_key(body) + ".json") != std::string::npos);
  // Standard input works too; the same bytes are then a duplicate.
  const Run again =
      run_tykhook({"send", "--secret", secret, "--to", listener.url(), "--body", "-"}, body);
  CHECK(again.status == 0);
  CHECK(again.out.find("X-Tykhook-Verdict: duplicate\n") != std::string::npos);
}

TEST_CASE("a body over the receiver's --max-body is answered 413 too_large") {
  TempDir dir;
  Listener listener({"--max-body", "1000"});
  const Run run =
      send({"--to", listener.url(), "--body", dir.write("big.json", std::string(5000, ' '))});
  CHECK(run.status == 1);
  CHECK(run.out.find(": HTTP 413 Payload Too Large\nX-Tykhook-Verdict: too_large\n") !=
        std::string::npos);
}

TEST_CASE("listen --tolerance off takes a delivery of any age; the default refuses it (#20)") {
  TempDir dir;
  // The documented sample, with its Timestamp of 2024: far outside the default 5 minutes.
  const std::string old = dir.write("old.json", source_file("samples/bodies/PasswordReset.json"));
  Listener strict;
  const Run refused = send({"--to", strict.url(), "--body", old});
  CHECK(refused.status == 1);
  CHECK(refused.out.find("X-Tykhook-Verdict: stale\n") != std::string::npos);
  Listener lenient({"--tolerance", "off"});
  const Run taken = send({"--to", lenient.url(), "--body", old});
  CHECK(taken.status == 0);
  CHECK(taken.out.find("X-Tykhook-Verdict: ok\n") != std::string::npos);
}

TEST_CASE("--method and --header reach the receiver") {
  Listener listener({"--require-header", "X-Portal-Token: t0ken"});
  const Run run = send({"--to", listener.url("/put-here"), "--event", "AccessRequestRejected",
                        "--method", "PUT", "--header", "X-Portal-Token: t0ken"});
  CHECK(run.status == 0);
  CHECK(run.out.find("X-Tykhook-Verdict: ok\n") != std::string::npos);
  const auto line = listener.process().next_error_line();
  REQUIRE(line);
  CHECK(line->find(" PUT /put-here AccessRequestRejected ok 200 ") != std::string::npos);
}

TEST_CASE("an answer without a verdict is printed as it is; not 2xx exits 1") {
  Listener listener;
  const Run run = send({"--to", listener.url(), "--event", "UserRegistered", "--method", "GET"});
  CHECK(run.status == 1);
  CHECK(run.out.starts_with("UserRegistered: HTTP 404 Not Found\n{\"error\":"));
  CHECK(run.out.find("X-Tykhook-Verdict") == std::string::npos);
}

TEST_CASE("send to a closed port says it cannot connect, and exits 2") {
  const Run run = send({"--to", "http://127.0.0.1:1/", "--event", "UserRegistered"});
  CHECK(run.status == 2);
  CHECK(run.out.empty());
  CHECK(run.err ==
        "tykhook send: http://127.0.0.1:1/: cannot connect: Connection refused; is the receiver "
        "running?\n");
}

TEST_CASE("a receiver that never answers is given up after --timeout, with exit status 2") {
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
  const Run run = send({"--to", url, "--event", "UserRegistered", "--timeout", "500ms"});
  const auto took = std::chrono::steady_clock::now() - started;
  ::close(fd);
  CHECK(run.status == 2);
  CHECK(run.err == "tykhook send: " + url +
                       ": no response within --timeout 500ms, or the connection closed first; "
                       "check that the URL is an HTTP receiver\n");
  CHECK(took < std::chrono::seconds(5));
}

TEST_CASE("usage errors exit 2 and name what to fix") {
  TempDir dir;
  const std::string body = dir.write("body.json", "{}");
  const struct {
    std::string_view name;
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {"no --to", {"--event", "UserRegistered"}, "--to is required"},
      {"nothing to send",
       {"--to", "http://127.0.0.1:9/"},
       "nothing to send; give --event NAME, --body FILE or --all"},
      {"an event without a sample",
       {"--to", "http://127.0.0.1:9/", "--event", "RegisterInvite"},
       "--event RegisterInvite: no sample body"},
      {"an unknown event",
       {"--to", "http://127.0.0.1:9/", "--event", "UserDeleted"},
       "UserDeleted"},
      {"--event with --body",
       {"--to", "http://127.0.0.1:9/", "--event", "UserRegistered", "--body", body},
       "excludes"},
      {"a header without a colon",
       {"--to", "http://127.0.0.1:9/", "--event", "UserRegistered", "--header", "X-Token"},
       "--header: no colon (what was given is not shown, in case it holds a credential); give "
       "\"NAME: VALUE\""},
      // The value of a header is never shown: it is a credential, often (#20).
      {"a space for the colon",
       {"--to", "http://127.0.0.1:9/", "--event", "UserRegistered", "--header",
        "X-Token s3cr3t-value"},
       "--header: no colon"},
      {"a name that is not a token",
       {"--to", "http://127.0.0.1:9/", "--event", "UserRegistered", "--header",
        "X Token: s3cr3t-value"},
       "--header: the part before the colon is not a header name"},
      {"an empty value",
       {"--to", "http://127.0.0.1:9/", "--event", "UserRegistered", "--header", "X-Token:  "},
       "--header: X-Token: the value is empty"},
      {"a URL without a scheme",
       {"--to", "127.0.0.1:9", "--event", "UserRegistered"},
       "--to \"127.0.0.1:9\": missing scheme"},
      // Nor the password in a URL's user information.
      {"a URL with user information",
       {"--to", "http://alice:s3cr3t-value@127.0.0.1:9/", "--event", "UserRegistered"},
       "--to \"http://USER@127.0.0.1:9/\": user information is not allowed; send credentials "
       "with --header"},
      {"a missing body file",
       {"--to", "http://127.0.0.1:9/", "--body", (dir.path() / "missing.json").string()},
       "--body " + (dir.path() / "missing.json").string() + ": cannot read"},
      {"a bad --timeout",
       {"--to", "http://127.0.0.1:9/", "--all", "--timeout", "5x"},
       "unknown unit"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const Run run = send(c.args);
    CAPTURE(run.err);
    CHECK(run.status == 2);
    CHECK(run.out.empty());
    CHECK(run.err.find(c.message) != std::string::npos);
    CHECK(run.err.find("s3cr3t-value") == std::string::npos);
  }
  const Run no_secret = run_tykhook({"send", "--to", "http://127.0.0.1:9/", "--all"}, "",
                                    {{"PORTAL_WEBHOOKS_SECRET", ""}});
  CHECK(no_secret.status == 2);
  CHECK(no_secret.err.find("--secret-env PORTAL_WEBHOOKS_SECRET: the variable is not set") !=
        std::string::npos);
}
