// `tykhook probe` end to end: the built binary checks a real `tykhook listen`, and endpoints
// of the test's own (plain and HTTPS) that fail in the ways a portal's admin meets.
#include <doctest/doctest.h>
#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_support.h"
#include "support/certificate.h"

using namespace tykhook::test;

namespace {

const std::string secret = "cli-probe-secret-04e1f";

// A `tykhook listen` on a free port with `secret`, stopped at destruction.
struct Listener : Listening {
  explicit Listener(const std::vector<std::string>& extra = {}) : Listening(secret, extra) {}
};

// An endpoint on loopback, plain or HTTPS, that answers HEAD with `head_status` (0: it has no
// handler for it, so 404) and deliveries with `answer`; it records the headers of each request.
class Endpoint {
 public:
  using Answer = std::function<void(const httplib::Request&, httplib::Response&)>;
  Endpoint(int head_status, Answer answer, const Certificate* certificate = nullptr)
      : answer_(std::move(answer)) {
    if (certificate != nullptr) {
      server_ =
          std::make_unique<httplib::SSLServer>(certificate->cert.get(), certificate->key.get());
    } else {
      server_ = std::make_unique<httplib::Server>();
    }
    // The server answers a HEAD with the GET handler, without its body.
    if (head_status != 0) {
      server_->Get(".*", [this, head_status](const httplib::Request& request, auto& response) {
        record(request);
        response.status = head_status;
      });
    }
    server_->Post(".*", [this](const httplib::Request& request, httplib::Response& response) {
      record(request);
      answer_(request, response);
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    REQUIRE(wait_until("the endpoint runs", [this] { return server_->is_running(); }));
  }
  ~Endpoint() {
    server_->stop();
    thread_.join();
  }
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  std::string url(const std::string& scheme = "http", const std::string& host = "127.0.0.1") const {
    return scheme + "://" + host + ":" + std::to_string(port_) + "/hook";
  }
  // The headers of each request so far, by method.
  std::multimap<std::string, httplib::Headers> requests() const {
    const std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void record(const httplib::Request& request) {
    const std::lock_guard lock(mutex_);
    requests_.emplace(request.method, request.headers);
  }

  Answer answer_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::multimap<std::string, httplib::Headers> requests_;
};

Endpoint::Answer status(int code) {
  return [code](const httplib::Request&, httplib::Response& response) { response.status = code; };
}

Run probe(const std::vector<std::string>& args, const std::string& key = secret) {
  std::vector<std::string> all = {"probe", "--secret-env", "TYKHOOK_PROBE_SECRET"};
  all.insert(all.end(), args.begin(), args.end());
  return run_tykhook(all, "", {{"TYKHOOK_PROBE_SECRET", key}});
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("probe against tykhook listen: Test Connection and a signed delivery both pass") {
  Listener listener;
  const Run run = probe({listener.url()});
  CAPTURE(run.err);
  CHECK(run.status == 0);
  const auto lines = lines_of(run.out);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].starts_with("pass  test connection: HEAD /hook answered 200 in "));
  CHECK(lines[1].starts_with(
      "pass  delivery: POST /hook UserRegistered answered 200, verdict ok in "));
  CHECK(run.err == "tykhook probe: 2 of 2 checks pass\n");

  const Run json = probe({listener.url(), "--event", "PasswordReset", "--format", "json"});
  CHECK(json.status == 0);
  const auto objects = lines_of(json.out);
  REQUIRE(objects.size() == 2);
  const auto head = nlohmann::json::parse(objects[0]);
  CHECK(head["check"] == "test_connection");
  CHECK(head["result"] == "pass");
  CHECK(head["status"] == 200);
  CHECK(head["verdict"].is_null());
  CHECK(head["ms"].is_number());
  CHECK(head["fix"].is_null());
  const auto delivery = nlohmann::json::parse(objects[1]);
  CHECK(delivery["check"] == "delivery");
  CHECK(delivery["result"] == "pass");
  CHECK(delivery["verdict"] == "ok");
  CHECK(contains(delivery["message"].get<std::string>(), "PasswordReset"));
}

TEST_CASE("an endpoint that does not answer HEAD with 200 fails Test Connection, with the fix") {
  const Endpoint endpoint(0, status(200));
  const Run run = probe({endpoint.url(), "--header", "X-Portal-Token: t0ken"});
  CHECK(run.status == 1);
  const auto lines = lines_of(run.out);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].starts_with("FAIL  test connection: HEAD /hook answered 404 in "));
  CHECK(lines[1] ==
        "      fix: answer a HEAD without custom headers with 200: the portal's Test Connection "
        "sends one, and reports a failure otherwise");
  // Not tykhook: 2xx is all a delivery needs.
  CHECK(lines[2].starts_with("pass  delivery: POST /hook UserRegistered answered 200 in "));
  CHECK(run.err == "tykhook probe: 1 of 2 checks pass; see the fix under each failed one\n");
}

TEST_CASE("the HEAD goes without the custom headers; the delivery has them, and the method") {
  const Endpoint endpoint(200, status(204));
  const Run run = probe({endpoint.url(), "--header", "X-Portal-Token: t0ken"});
  CHECK(run.status == 0);
  const auto requests = endpoint.requests();
  REQUIRE(requests.count("HEAD") == 1);
  CHECK(!requests.find("HEAD")->second.count("X-Portal-Token"));
  CHECK(!requests.find("HEAD")->second.count("X-Signature-SHA256"));
  REQUIRE(requests.count("POST") == 1);
  const auto& post = requests.find("POST")->second;
  CHECK(post.find("X-Portal-Token")->second == "t0ken");
  CHECK(post.find("X-Signature-SHA256")->second.size() == 64);

  const Run put = probe({endpoint.url(), "--method", "PUT"});
  CHECK(put.status == 1);
  CHECK(contains(put.out, "FAIL  delivery: PUT /hook UserRegistered answered 404 in "));
  CHECK(contains(put.out, "fix: the path is not the endpoint's; check the webhook's target URL"));
}

TEST_CASE("a receiver with another secret: the checklist says the signature does not match") {
  Listener listener;
  const Run run = probe({listener.url()}, "not-the-receivers-secret");
  CHECK(run.status == 1);
  const auto lines = lines_of(run.out);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].starts_with("pass  test connection: "));
  CHECK(
      lines[1].starts_with("FAIL  delivery: POST /hook UserRegistered answered 401, verdict "
                           "signature_mismatch in "));
  CHECK(
      lines[2].starts_with("      fix: the signature does not match: the receiver's secret is "
                           "not the one given here;"));
  CHECK(!contains(run.out + run.err, "not-the-receivers-secret"));
  CHECK(!contains(run.out + run.err, secret));

  Listener guarded({"--require-header", "X-Portal-Token: t0ken"});
  const Run missing = probe({guarded.url()});
  CHECK(missing.status == 1);
  CHECK(contains(missing.out, "verdict rejected"));
  CHECK(contains(missing.out,
                 "add it to the webhook's custom headers, and give it here with "
                 "--header"));
  CHECK(probe({guarded.url(), "--header", "X-Portal-Token: t0ken"}).status == 0);
}

TEST_CASE("a receiver slower than --timeout fails the delivery, and probe does not wait on it") {
  std::atomic<bool> released{false};
  const Endpoint endpoint(200, [&released](const httplib::Request&, httplib::Response& response) {
    // Held until the test has its result: slower than any --timeout, without a fixed sleep.
    poll_until([&released] { return released.load(); }, std::chrono::seconds(10));
    response.status = 200;
  });
  const auto started = std::chrono::steady_clock::now();
  const Run run = probe({endpoint.url(), "--timeout", "300ms"});
  const auto took = std::chrono::steady_clock::now() - started;
  released = true;
  CHECK(run.status == 1);
  CHECK(contains(run.out, "pass  test connection: "));
  CHECK(contains(run.out,
                 "FAIL  delivery: POST /hook UserRegistered: no response within "
                 "--timeout 300ms"));
  CHECK(contains(run.out,
                 "fix: answer each delivery within the webhook's timeout (--timeout "
                 "300ms); the portal does not send it again"));
  CHECK(took < std::chrono::seconds(5));
}

TEST_CASE("https: the certificate is checked for trust, host and days to expiry") {
  const TempDir dir;
  const auto lasting = make_certificate("lasting", std::chrono::hours(24 * 30));
  const Endpoint endpoint(200, status(200), &lasting);
  const std::string ca = dir.write("ca.pem", lasting.pem);
  const Run trusted = probe({endpoint.url("https"), "--cacert", ca});
  CAPTURE(trusted.err);
  CHECK(trusted.status == 0);
  const auto lines = lines_of(trusted.out);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].starts_with("pass  certificate of 127.0.0.1:"));
  CHECK(contains(lines[0], ": valid for 127.0.0.1, expires "));
  CHECK(lines[0].ends_with(" (in 29 days)"));
  CHECK(lines[1].starts_with("pass  test connection: "));
  CHECK(lines[2].starts_with("pass  delivery: "));

  // The portal does not know a private CA.
  const Run untrusted = probe({endpoint.url("https")});
  CHECK(untrusted.status == 1);
  CHECK(contains(untrusted.out, "FAIL  certificate of 127.0.0.1:"));
  CHECK(contains(untrusted.out, ": not trusted (self-signed certificate)\n"));
  CHECK(contains(untrusted.out, "fix: use a certificate from a CA that the portal's host trusts"));

  // A name that the certificate does not hold.
  const Run other_name = probe({endpoint.url("https", "localhost"), "--cacert", ca});
  CHECK(other_name.status == 1);
  CHECK(contains(other_name.out, ": not valid for localhost\n"));

  const auto expiring = make_certificate("expiring", std::chrono::hours(24 * 3));
  const Endpoint soon(200, status(200), &expiring);
  const Run warned = probe(
      {soon.url("https"), "--cacert", dir.write("expiring.pem", expiring.pem), "--format", "json"});
  CHECK(warned.status == 0);  // a warning is not a failure
  const auto certificate = nlohmann::json::parse(lines_of(warned.out).at(0));
  CHECK(certificate["check"] == "certificate");
  CHECK(certificate["result"] == "warn");
  CHECK(certificate["days_left"] == 2);
  CHECK(certificate["expires"].is_string());
  CHECK(certificate["fix"] == "renew the certificate: under 14 days are left");
}

TEST_CASE("an endpoint that cannot be reached fails each check, saying why") {
  const Run run = probe({"http://127.0.0.1:1/hook"});
  CHECK(run.status == 1);
  CHECK(contains(run.out, "FAIL  test connection: HEAD /hook: cannot connect: Connection refused"));
  CHECK(contains(run.out, "FAIL  delivery: POST /hook UserRegistered: cannot connect: "));
  const Run tls = probe({"https://127.0.0.1:1/hook"});
  CHECK(tls.status == 1);
  CHECK(contains(tls.out, "FAIL  certificate of 127.0.0.1:1: cannot connect: Connection refused"));
}

TEST_CASE("probe's usage errors exit 2 and name what to fix") {
  const TempDir dir;
  const struct {
    std::string_view name;
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {"no URL", {}, "url is required"},
      {"a URL without a scheme", {"127.0.0.1:9/hook"}, "missing scheme"},
      {"an event without a sample",
       {"http://127.0.0.1:9/", "--event", "RegisterInvite"},
       "--event RegisterInvite: no sample body"},
      {"a header without a colon",
       {"http://127.0.0.1:9/", "--header", "X-Token s3cr3t-value"},
       "--header: no colon"},
      {"--cacert for http",
       {"http://127.0.0.1:9/", "--cacert", dir.file("ca.pem")},
       "--cacert is for https URLs"},
      {"a bad --timeout", {"http://127.0.0.1:9/", "--timeout", "5x"}, "unknown unit"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const Run run = probe(c.args);
    CAPTURE(run.err);
    CHECK(run.status == 2);
    CHECK(run.out.empty());
    CHECK(contains(run.err, c.message));
    CHECK(!contains(run.err, "s3cr3t-value"));
  }
  const Run no_secret =
      run_tykhook({"probe", "http://127.0.0.1:9/"}, "", {{"PORTAL_WEBHOOKS_SECRET", ""}});
  CHECK(no_secret.status == 2);
  CHECK(contains(no_secret.err,
                 "tykhook probe: --secret-env PORTAL_WEBHOOKS_SECRET: the variable is not set"));
}
