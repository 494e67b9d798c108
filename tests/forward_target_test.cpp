#include <doctest/doctest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/certificate.h"
#include "support/files.h"
#include "support/loopback.h"
#include "support/wait.h"
#include "tykhook/forward.h"
#include "tykhook/verifier.h"

using namespace tykhook;
using namespace tykhook::test;

namespace {

// What the application's endpoint received of one request.
struct Received {
  std::string method;
  std::string path;
  httplib::Headers headers;
  std::string body;
  int remote_port = 0;
};

// An application's endpoint on a loopback port: answers each request with `answer`, and
// records what came. Plain HTTP, or HTTPS with `cert` and `key`.
class Endpoint {
 public:
  using Answer = std::function<void(const httplib::Request&, httplib::Response&)>;
  explicit Endpoint(Answer answer, X509* cert = nullptr, EVP_PKEY* key = nullptr)
      : answer_(std::move(answer)) {
    if (cert != nullptr) {
      server_ = std::make_unique<httplib::SSLServer>(cert, key);
    } else {
      server_ = std::make_unique<httplib::Server>();
    }
    server_->Post(".*", [this](const auto& q, auto& r) { handle(q, r); });
    server_->Put(".*", [this](const auto& q, auto& r) { handle(q, r); });
    // Its default closes a connection after 5 requests; the keep-alive tests count connections.
    server_->set_keep_alive_max_count(1000);
    port_ = server_->bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    wait_until("the endpoint runs", [this] { return server_->is_running(); });
  }
  ~Endpoint() {
    server_->stop();
    thread_.join();
  }
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  std::string url(const std::string& scheme = "http") const {
    return scheme + "://127.0.0.1:" + std::to_string(port_) + "/hook";
  }
  std::vector<Received> received() const {
    const std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  void handle(const httplib::Request& request, httplib::Response& response) {
    {
      const std::lock_guard lock(mutex_);
      received_.push_back(
          {request.method, request.path, request.headers, request.body, request.remote_port});
    }
    answer_(request, response);
  }

  Answer answer_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<Received> received_;
};

Endpoint::Answer status(int code, std::string retry_after = "") {
  return [code, retry_after](const httplib::Request&, httplib::Response& response) {
    response.status = code;
    if (!retry_after.empty()) response.set_header("Retry-After", retry_after);
  };
}

// Every byte value but in an order that is not UTF-8, and a NUL.
std::string hostile_body() {
  std::string bytes = R"({"Event":"UserRegistered","Message":{},"Timestamp":"x"})";
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(255 - i);
  return bytes;
}

QueueEntry entry_of(std::string body, unsigned attempt = 1) {
  QueueEntry entry;
  entry.key = idempotency_key(body);
  entry.event = "UserRegistered";
  entry.request.method = "POST";
  entry.request.target = "/portal/own/target?x=1";
  entry.request.body = std::move(body);
  entry.attempts = attempt;
  return entry;
}

std::string header(const Received& received, const std::string& name) {
  const auto found = received.headers.find(name);
  return found == received.headers.end() ? "<none>" : found->second;
}

std::vector<std::string> headers(const Received& received, const std::string& name) {
  std::vector<std::string> values;
  const auto [begin, end] = received.headers.equal_range(name);
  for (auto it = begin; it != end; ++it) values.push_back(it->second);
  return values;
}

}  // namespace

TEST_CASE("the forwarded request carries the delivery's method, exact body and headers") {
  const Endpoint endpoint(status(204));
  auto target =
      forward_target({.url = endpoint.url(),
                      .headers = {{"Authorization", "Bearer app-token"}, {"X-Team", "billing"}}});
  auto entry = entry_of(hostile_body(), 3);
  entry.request.method = "PUT";
  entry.request.headers = {{"content-type", "application/json; charset=utf-8"},
                           {"X-Signature-SHA256", "aa11"},
                           {"x-signature-sha256", "bb22"},
                           {"X-Other", "not forwarded"}};
  const auto result = target->attempt(entry);
  CHECK(to_string(result.outcome) == "done");
  CHECK(result.error.empty());
  const auto received = endpoint.received();
  REQUIRE(received.size() == 1);
  const auto& got = received.front();
  CHECK(got.method == "PUT");
  CHECK(got.path == "/hook");  // the URL's path; the delivery's own target is not appended
  CHECK(got.body == entry.request.body);
  CHECK(header(got, "Content-Type") == "application/json; charset=utf-8");
  CHECK(headers(got, "X-Signature-SHA256") == std::vector<std::string>{"aa11", "bb22"});
  CHECK(header(got, "X-Tykhook-Delivery") == entry.key);
  CHECK(header(got, "X-Tykhook-Attempt") == "3");
  CHECK(header(got, "X-Tykhook-Event") == "UserRegistered");
  CHECK(header(got, "Authorization") == "Bearer app-token");
  CHECK(header(got, "X-Team") == "billing");
  CHECK(header(got, "X-Other") == "<none>");
}

TEST_CASE("a delivery received without a Content-Type is forwarded as application/json") {
  const Endpoint endpoint(status(200));
  CHECK(to_string(forward_target({.url = endpoint.url()})->attempt(entry_of("{}")).outcome) ==
        "done");
  REQUIRE(endpoint.received().size() == 1);
  CHECK(header(endpoint.received().front(), "Content-Type") == "application/json");
  CHECK(headers(endpoint.received().front(), "X-Signature-SHA256").empty());
}

TEST_CASE("the answer's status decides: 2xx done; 408, 425, 429, 5xx retry; any other dead") {
  const struct {
    int status;
    std::string_view outcome;
    std::string_view reason;
  } cases[] = {
      {200, "done", ""},
      {201, "done", ""},
      {299, "done", ""},
      {408, "retry", " Request Timeout"},
      {425, "retry", " Too Early"},
      {429, "retry", " Too Many Requests"},
      {500, "retry", " Internal Server Error"},
      {503, "retry", " Service Unavailable"},
      {599, "retry", " Internal Server Error"},  // the phrase the test's server sends for it
      {301, "dead", " Moved Permanently"},
      {400, "dead", " Bad Request"},
      {401, "dead", " Unauthorized"},
      {404, "dead", " Not Found"},
      {410, "dead", " Gone"},
      {499, "dead", " Internal Server Error"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.status);
    const Endpoint endpoint(status(c.status));
    const auto result = forward_target({.url = endpoint.url()})->attempt(entry_of("{}"));
    CHECK(to_string(result.outcome) == c.outcome);
    const std::string want =
        c.outcome == "done"
            ? ""
            : endpoint.url() + ": " + std::to_string(c.status) + std::string(c.reason);
    CHECK(result.error == want);
    CHECK_FALSE(result.retry_after);
  }
}

TEST_CASE("Retry-After is honoured in seconds and as an HTTP-date, and ignored when malformed") {
  // One hour from now, as an IMF-fixdate.
  const std::time_t later = std::time(nullptr) + 3600;
  std::tm parts{};
  gmtime_r(&later, &parts);
  char date[64];
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &parts);

  using std::chrono::milliseconds;
  const struct {
    std::string_view name;
    std::string header;
    milliseconds least;
    milliseconds most;
  } cases[] = {
      {"seconds", "120", milliseconds(120'000), milliseconds(120'000)},
      {"zero", "0", milliseconds(0), milliseconds(0)},
      {"an HTTP-date", date, milliseconds(3'590'000), milliseconds(3'600'000)},
      {"a date in the past", "Sun, 06 Nov 1994 08:49:37 GMT", milliseconds(0), milliseconds(0)},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const Endpoint endpoint(status(503, c.header));
    const auto result = forward_target({.url = endpoint.url()})->attempt(entry_of("{}"));
    CHECK(to_string(result.outcome) == "retry");
    REQUIRE(result.retry_after);
    CHECK(*result.retry_after >= c.least);
    CHECK(*result.retry_after <= c.most);
  }
  for (const std::string malformed :
       {"soon", "-5", "1.5", "Sun, 32 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT"}) {
    CAPTURE(malformed);
    const Endpoint endpoint(status(429, malformed));
    const auto result = forward_target({.url = endpoint.url()})->attempt(entry_of("{}"));
    CHECK(to_string(result.outcome) == "retry");
    CHECK_FALSE(result.retry_after);
  }
}

TEST_CASE("an endpoint that does not answer in time is tried again") {
  std::mutex mutex;
  std::condition_variable released;
  bool release = false;
  const Endpoint endpoint([&](const httplib::Request&, httplib::Response& response) {
    std::unique_lock lock(mutex);
    released.wait_for(lock, std::chrono::seconds(20), [&] { return release; });
    response.status = 200;
  });
  const auto started = std::chrono::steady_clock::now();
  const auto result =
      forward_target({.url = endpoint.url(), .timeout = std::chrono::milliseconds(300)})
          ->attempt(entry_of("{}"));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
  {
    const std::lock_guard lock(mutex);
    release = true;
  }
  released.notify_all();
  CHECK(to_string(result.outcome) == "retry");
  CHECK(result.error == endpoint.url() + ": timed out after 300ms");
}

TEST_CASE("a port where nothing listens is tried again") {
  const std::string url = "http://127.0.0.1:" + std::to_string(free_port()) + "/hook";
  const auto result = forward_target({.url = url})->attempt(entry_of("{}"));
  CHECK(to_string(result.outcome) == "retry");
  CHECK(result.error == url + ": cannot connect (connection refused or host unreachable)");
}

TEST_CASE("attempts reuse one kept-alive connection") {
  const Endpoint endpoint(status(200));
  auto target = forward_target({.url = endpoint.url()});
  for (unsigned attempt = 1; attempt <= 10; ++attempt) {
    CHECK(to_string(target->attempt(entry_of("{}", attempt)).outcome) == "done");
  }
  std::set<int> ports;
  for (const auto& received : endpoint.received()) ports.insert(received.remote_port);
  CHECK(endpoint.received().size() == 10);
  CHECK(ports.size() == 1);
}

TEST_CASE("attempts from several threads at once each get a connection of their own") {
  const Endpoint endpoint(status(200));
  auto target = forward_target({.url = endpoint.url()});
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        if (target->attempt(entry_of("{}")).outcome == AttemptOutcome::done) ++done;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(done == 40);
  std::set<int> ports;
  for (const auto& received : endpoint.received()) ports.insert(received.remote_port);
  CHECK(ports.size() <= 4);
}

TEST_CASE("https is verified against the CA file, and an untrusted certificate is retried") {
  const auto server = make_certificate("127.0.0.1");
  const auto stranger = make_certificate("someone else");
  const TempDir dir;
  const auto trusted = dir.write("ca.pem", server.pem);
  const auto wrong = dir.write("wrong-ca.pem", stranger.pem);
  const Endpoint endpoint(status(200), server.cert.get(), server.key.get());

  const auto ok = forward_target({.url = endpoint.url("https"), .ca_file = trusted})
                      ->attempt(entry_of(hostile_body()));
  CHECK(to_string(ok.outcome) == "done");
  CHECK(ok.error.empty());
  REQUIRE(endpoint.received().size() == 1);
  CHECK(endpoint.received().front().body == hostile_body());

  const auto untrusted =
      forward_target({.url = endpoint.url("https"), .ca_file = wrong})->attempt(entry_of("{}"));
  CHECK(to_string(untrusted.outcome) == "retry");
  CHECK(untrusted.error.starts_with(endpoint.url("https") +
                                    ": the server's certificate is not trusted ("));
  CHECK(untrusted.error.ends_with("); give the CA that signed it with --cacert"));
  CHECK(endpoint.received().size() == 1);
}

TEST_CASE("a URL that is not http(s) with a host is refused at once, saying how to fix it") {
  const struct {
    std::string_view url;
    std::string_view want;
  } cases[] = {
      {"ftp://host/x", "unsupported scheme \"ftp\""},
      {"127.0.0.1:9000/hook", "missing scheme"},
      {"http:///hook", "missing host"},
      {"http://:9000/hook", "missing host"},
      {"http://host:99999/", "port must be a number from 1 to 65535"},
      {"http://host:x/", "port must be a number from 1 to 65535"},
      {"http://user:secret@host/", "\"http://USER@host/\": user information is not allowed"},
      {"https://user:secret@host", "\"https://USER@host\": user information is not allowed"},
      {"http://host/a b", "white space in path"},
      {"http://[::1/", "unclosed [ in the host"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.url);
    try {
      (void)forward_target({.url = std::string(c.url)});
      FAIL("no error");
    } catch (const Error& e) {
      const std::string what = e.what();
      CAPTURE(what);
      CHECK(what.starts_with("--forward-to \""));
      CHECK(what.find(c.want) != std::string::npos);
      CHECK(what.ends_with("e.g. http://127.0.0.1:9000/hook"));
      CHECK(what.find("secret") == std::string::npos);
    }
  }
  CHECK_THROWS_WITH_AS((void)forward_target({.url = "http://h/", .ca_file = "/no/such/ca.pem"}),
                       doctest::Contains("--cacert \"/no/such/ca.pem\": cannot read the file"),
                       Error);
}

TEST_CASE("a forward target names its URL without the query, which may carry a token") {
  CHECK(forward_target({.url = "http://127.0.0.1:9000/hook?token=abc"})->describe() ==
        "http://127.0.0.1:9000/hook");
  CHECK(forward_target({.url = "https://[::1]:8443"})->describe() == "https://[::1]:8443/");
}
