// Secrets and their rotation through the built binary: `secret fingerprint`, the warnings for
// suspect secrets, $CREDENTIALS_DIRECTORY, which secret matched (verify, listen's log,
// /metrics), and listen's reload of its secrets on SIGHUP (issue #18, "Secrets and rotation").
#include <doctest/doctest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cli_support.h"
#include "support/loopback.h"
#include "tykhook/signature.h"
#include "tykhook/timestamp.h"

using namespace tykhook::test;
namespace fs = std::filesystem;

namespace {

const std::string old_secret = "rotation-old-secret-5b2e9d1c";
const std::string new_secret = "rotation-new-secret-a7c4f380";
const std::string other_secret = "rotation-other-secret-90d1e6b4";

std::string fingerprint_of(const std::string& secret) {
  return tykhook::fingerprint(tykhook::Secret(secret));
}

// A delivery with a fresh Timestamp and a body of its own (`id`), signed with `secret`, as a
// raw request that closes its connection.
std::string delivery(const std::string& secret, int id) {
  const std::string now = tykhook::format_rfc3339(
      std::chrono::time_point_cast<std::chrono::nanoseconds>(tykhook::Clock::now()));
  const std::string body = R"({"Event":"OrganisationRegistered","Message":{"ID":)" +
                           std::to_string(id) + R"(,"Name":"ACME",)" +
                           R"("CreatedAt":"2024-04-22T16:38:54Z"},"Timestamp":")" + now + R"("})";
  return "POST /hook HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
         "application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nX-Signature-SHA256: " + tykhook::sign(secret, body) +
         "\r\n\r\n" + body;
}

// "STATUS VERDICT" of the answer to a delivery signed with `secret`.
std::string answer_to(int port, const std::string& secret, int id) {
  const std::string response = tykhook::test::exchange(port, delivery(secret, id));
  return std::to_string(status_of(response)) + " " + header_of(response, "X-Tykhook-Verdict");
}

// The value of the sample `name` in a Prometheus text, "" when it has none.
std::string sample(const std::string& metrics, const std::string& name) {
  const auto at = metrics.find("\n" + name + " ");
  if (at == std::string::npos) return "";
  const auto start = at + name.size() + 2;
  return metrics.substr(start, metrics.find('\n', start) - start);
}

std::string by_secret(const std::string& secret) {
  return "tykhook_deliveries_by_secret_total{secret=\"" + fingerprint_of(secret) + "\"}";
}

}  // namespace

TEST_CASE("secret fingerprint prints each secret's index, fingerprint and source, never it") {
  TempDir dir;
  const auto file = dir.write("old.txt", old_secret + "\n");
  const Run run =
      run_tykhook({"secret", "fingerprint", "--secret-file", file, "--secret", new_secret});
  CHECK(run.status == 0);
  CHECK(run.out == "0 " + fingerprint_of(old_secret) + " --secret-file " + file + "\n1 " +
                       fingerprint_of(new_secret) + " --secret\n");
  CHECK(run.err.empty());

  const Run json = run_tykhook(
      {"secret", "fingerprint", "--format", "json", "--secret-env", "TYKHOOK_TEST_SECRET"}, {},
      {{"TYKHOOK_TEST_SECRET", other_secret}});
  CHECK(json.status == 0);
  const auto line = nlohmann::json::parse(json.out);
  CHECK(line == nlohmann::json{{"index", 0},
                               {"fingerprint", fingerprint_of(other_secret)},
                               {"source", "--secret-env TYKHOOK_TEST_SECRET"}});
  for (const Run* each : {&run, &json}) {
    for (const auto& secret : {old_secret, new_secret, other_secret}) {
      CHECK(each->out.find(secret) == std::string::npos);
    }
  }
}

TEST_CASE("secret fingerprint shows the secrets that load and exits 2 for one that does not") {
  TempDir dir;
  const Run run = run_tykhook(
      {"secret", "fingerprint", "--secret-file", dir.file("gone.txt"), "--secret", new_secret});
  CHECK(run.status == 2);
  CHECK(run.out == "0 " + fingerprint_of(new_secret) + " --secret\n");
  CHECK(run.err.starts_with("tykhook secret: --secret-file " + dir.file("gone.txt") +
                            ": cannot read: No such file or directory"));
  const Run none = run_tykhook({"secret", "fingerprint"}, {}, {{"PORTAL_WEBHOOKS_SECRET", ""}});
  CHECK(none.status == 2);
  CHECK(none.out.empty());
  CHECK(none.err.find("PORTAL_WEBHOOKS_SECRET: the variable is not set") != std::string::npos);
}

TEST_CASE("a suspect secret is warned about on standard error, never shown, and still used") {
  const struct {
    std::string_view name;
    std::string secret;
    std::vector<std::string_view> warnings;  // key words, one per warning expected
    bool hidden;                             // whether the message cannot quote it by chance
  } cases[] = {
      {"a long random secret", "d41d8cd98f00b204e9800998ecf8427e", {}, true},
      {"a leading space", " d41d8cd98f00b204e9800998ecf8427e", {"white space"}, true},
      {"a trailing tab", "d41d8cd98f00b204e9800998ecf8427e\t", {"white space"}, true},
      {"two trailing newlines (one is removed)",
       "d41d8cd98f00b204e9800998ecf8427e\n",
       {"white space"},
       true},
      {"15 bytes", "d41d8cd98f00b20", {"shorter than 16 bytes"}, true},
      {"16 bytes", "d41d8cd98f00b204", {}, true},
      {"changeme", "changeme", {"shorter than 16 bytes", "placeholder"}, false},
      {"SECRET", "SECRET", {"shorter than 16 bytes", "placeholder"}, false},
      {"x's", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", {"placeholder"}, true},
      {"your-...", "your-webhook-secret-goes-here", {"placeholder"}, true},
      {"<...>", "<the portal's webhook secret>", {"placeholder"}, true},
      {"an unexpanded variable", "${PORTAL_WEBHOOKS_SECRET}", {"placeholder"}, true},
  };
  TempDir dir;
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto file = dir.write("secret", c.secret + "\n");
    const Run run = run_tykhook({"secret", "fingerprint", "--secret-file", file});
    CHECK(run.status == 0);
    CHECK(run.out == "0 " + fingerprint_of(c.secret) + " --secret-file " + file + "\n");
    std::size_t lines = 0;
    for (std::size_t at = run.err.find('\n'); at != std::string::npos;
         at = run.err.find('\n', at + 1)) {
      ++lines;
    }
    CHECK(lines == c.warnings.size());
    for (const std::string_view warning : c.warnings) {
      CAPTURE(warning);
      CHECK(run.err.find("tykhook secret: warning: --secret-file " + file + ": the secret ") !=
            std::string::npos);
      CHECK(run.err.find(warning) != std::string::npos);
    }
    if (c.hidden) CHECK(run.err.find(c.secret) == std::string::npos);
  }
  // verify warns too, and goes on with the secret.
  const auto short_file = dir.write("short", "short-secret\n");
  const Run verify =
      run_tykhook({"verify", "--secret-file", short_file, "-"}, R"({"Event":"UserRegistered"})");
  CHECK(verify.status == 1);
  CHECK(verify.err.starts_with("tykhook verify: warning: --secret-file " + short_file +
                               ": the secret is shorter than 16 bytes"));
  CHECK(verify.out.starts_with("-: missing_signature"));
}

TEST_CASE("a bare --secret-file name that is no file here is read from $CREDENTIALS_DIRECTORY") {
  TempDir dir;
  const fs::path credentials = dir.path() / "credentials";
  fs::create_directory(credentials);
  write_file(credentials / "tykhook-webhook-secret", old_secret + "\n");
  const std::map<std::string, std::string> env = {{"CREDENTIALS_DIRECTORY", credentials}};

  const Run found =
      run_tykhook({"secret", "fingerprint", "--secret-file", "tykhook-webhook-secret"}, {}, env);
  CHECK(found.status == 0);
  CHECK(found.out == "0 " + fingerprint_of(old_secret) +
                         " --secret-file tykhook-webhook-secret ($CREDENTIALS_DIRECTORY)\n");
  CHECK(found.err.empty());

  // A name in neither place: the error says both places, and not the name (it has no '.' or
  // '/', so it might be a secret typed into the wrong option).
  const Run missing =
      run_tykhook({"secret", "fingerprint", "--secret-file", "other-name"}, {}, env);
  CHECK(missing.status == 2);
  CHECK(missing.err ==
        "tykhook secret: --secret-file (the name is not shown, in case it is the "
        "secret itself): no such file in the working directory, nor in "
        "$CREDENTIALS_DIRECTORY (" +
            credentials.string() +
            "); check the credential's name in the service's LoadCredential=\n");
  // A name with a '.' is shown.
  const Run dotted = run_tykhook({"secret", "fingerprint", "--secret-file", "secret.txt"}, {}, env);
  CHECK(dotted.status == 2);
  CHECK(
      dotted.err.starts_with("tykhook secret: --secret-file secret.txt: no such file in the "
                             "working directory, nor in $CREDENTIALS_DIRECTORY ("));
  // A path with a '/' is a path only; without the variable, a bare name is a path only.
  const Run path =
      run_tykhook({"secret", "fingerprint", "--secret-file", "./tykhook-webhook-secret"}, {}, env);
  CHECK(path.status == 2);
  CHECK(
      path.err.starts_with("tykhook secret: --secret-file ./tykhook-webhook-secret: cannot read"));
  const Run unset =
      run_tykhook({"secret", "fingerprint", "--secret-file", "tykhook-webhook-secret"}, {},
                  {{"CREDENTIALS_DIRECTORY", ""}});
  CHECK(unset.status == 2);
  CHECK(unset.err.find("$CREDENTIALS_DIRECTORY") == std::string::npos);
}

TEST_CASE("verify --format json names the secret that matched an authentic capture") {
  TempDir dir;
  const auto capture = dir.write("new.http", delivery(new_secret, 1));
  const Run run = run_tykhook(
      {"verify", "--secret", old_secret, "--secret", new_secret, "--format", "json", capture});
  CHECK(run.status == 0);
  const auto line = nlohmann::json::parse(run.out);
  CHECK(line.at("verdict") == "ok");
  CHECK(line.at("secret") ==
        nlohmann::json{{"index", 1}, {"fingerprint", fingerprint_of(new_secret)}});
  // Not authentic: no secret matched, and none is named.
  const Run mismatch =
      run_tykhook({"verify", "--secret", other_secret, "--format", "json", capture});
  CHECK(mismatch.status == 1);
  CHECK_FALSE(nlohmann::json::parse(mismatch.out).contains("secret"));
}

TEST_CASE("listen's log lines and /metrics name the secret that matched each delivery") {
  TempDir dir;
  for (const std::string_view format : {"text", "json"}) {
    CAPTURE(format);
    Background listen({"listen", "--port", "0", "--secret", old_secret, "--secret", new_secret,
                       "--store", "memory:", "--log-format", std::string(format)});
    const auto startup = read_startup_lines(listen);
    REQUIRE_FALSE(startup.empty());
    const int port = listening_port(startup.front());
    REQUIRE(port > 0);
    CHECK(answer_to(port, new_secret, 1) == "200 ok");
    const auto line = listen.next_error_line();
    REQUIRE(line.has_value());
    if (format == "text") {
      CHECK(line->ends_with("ms secret #1 " + fingerprint_of(new_secret)));
    } else {
      CHECK(nlohmann::json::parse(*line).at("secret") ==
            nlohmann::json{{"index", 1}, {"fingerprint", fingerprint_of(new_secret)}});
    }
    CHECK(answer_to(port, other_secret, 2) == "401 signature_mismatch");
    const auto refused = listen.next_error_line();
    REQUIRE(refused.has_value());
    CHECK(refused->find("secret") == std::string::npos);
    const std::string metrics = body_of(tykhook::test::exchange(
        port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    CHECK(sample(metrics, by_secret(old_secret)) == "0");
    CHECK(sample(metrics, by_secret(new_secret)) == "1");
    listen.signal(SIGTERM);
    CHECK(listen.wait().status == 0);
  }
}

TEST_CASE("SIGHUP reloads the secret files under load: no request fails, a failed reload keeps") {
  TempDir dir;
  const auto first = dir.write("first", old_secret + "\n");
  const auto second = dir.write("second", other_secret + "\n");
  Background listen({"listen", "--port", "0", "--secret-file", first, "--secret-file", second,
                     "--store", "memory:", "--quiet"});
  const auto startup = read_startup_lines(listen);
  REQUIRE_FALSE(startup.empty());
  const int port = listening_port(startup.front());
  REQUIRE(port > 0);
  std::atomic<int> ids{0};
  CHECK(answer_to(port, new_secret, ++ids) == "401 signature_mismatch");

  // Deliveries signed with the secret that stays, one after another through both reloads.
  std::atomic<bool> sending{true};
  std::atomic<int> sent{0};
  std::vector<std::string> failures;  // written by the sender only, read after it ends
  std::thread sender([&] {
    while (sending) {
      const std::string answer = answer_to(port, old_secret, ++ids);
      if (answer != "200 ok") failures.push_back(answer);
      ++sent;
    }
  });
  wait_until("deliveries before the reload", [&] { return sent >= 5; });

  write_file(second, new_secret + "\n");
  listen.signal(SIGHUP);
  wait_until("the reload's line", [&] {
    return listen.error_text().find("tykhook listen: secrets reloaded: 2: ") != std::string::npos;
  });
  CHECK(listen.error_text().find("#1 " + fingerprint_of(new_secret) + " (--secret-file " + second +
                                 ")") != std::string::npos);
  CHECK(answer_to(port, new_secret, ++ids) == "200 ok");
  const int after_reload = sent;
  wait_until("deliveries after the reload", [&] { return sent >= after_reload + 5; });

  // The file removed too early: the reload fails, and the secrets in force stay.
  fs::remove(second);
  listen.signal(SIGHUP);
  wait_until("the failed reload's line", [&] {
    return listen.error_text().find(
               "tykhook listen: secrets not reloaded, the ones in force stay: --secret-file " +
               second + ": cannot read") != std::string::npos;
  });
  CHECK(answer_to(port, new_secret, ++ids) == "200 ok");
  const int after_failure = sent;
  wait_until("deliveries after the failed reload", [&] { return sent >= after_failure + 5; });
  sending = false;
  sender.join();
  CHECK(failures.empty());
  if (!failures.empty()) CHECK(failures.front() == "200 ok");

  const std::string metrics = body_of(tykhook::test::exchange(
      port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  CHECK(sample(metrics, by_secret(old_secret)) == std::to_string(sent.load()));
  CHECK(sample(metrics, by_secret(new_secret)) == "2");
  CHECK(sample(metrics, by_secret(other_secret)) == "0");
  listen.signal(SIGTERM);
  const Run run = listen.wait();
  CHECK(run.status == 0);
  for (const auto& secret : {old_secret, new_secret, other_secret}) {
    CHECK(run.err.find(secret) == std::string::npos);
  }
}
