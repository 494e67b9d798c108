#include "tykhook/receiver.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "../lib/src/capture_writer.h"
#include "../lib/src/request_head.h"
#include "tykhook/capture.h"
#include "tykhook/schema.h"
#include "tykhook/signature.h"
#include "tykhook/store.h"

using namespace tykhook;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string secret = "receiver-test-secret";

std::string sample(std::string_view event) {
  std::ifstream in(fs::path(TYKHOOK_SOURCE_DIR) / "samples/bodies" / (std::string(event) + ".json"),
                   std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  REQUIRE_FALSE(bytes.str().empty());
  return bytes.str();
}

TimePoint now() { return std::chrono::time_point_cast<std::chrono::nanoseconds>(Clock::now()); }

// `body` with its (last, top-level) Timestamp set to the current time, other bytes kept.
std::string fresh(std::string body) {
  const std::string member = "\"Timestamp\":\"";
  const auto start = body.rfind(member) + member.size();
  body.replace(start, body.find('"', start) - start, format_rfc3339(now()));
  return body;
}

const std::string schema_broken =
    fresh(R"({"Event":"ApplicationRegistered","Message":{"ID":"1","Name":"New App","UserID":1,)"
          R"("CreatedAt":"2024-04-18T13:29:23.738726+02:00"},"Timestamp":""})");

// A store that remembers keys in a set, and fails like a Redis that went away while `failing`.
class FlakyStore : public Store {
 public:
  std::atomic<bool> failing{false};
  bool claim(std::string_view key, std::chrono::milliseconds) override {
    if (failing) throw Error("store \"test:\": connection refused");
    const std::lock_guard lock(mutex_);
    return keys_.emplace(key).second;
  }
  void release(std::string_view key) override {
    const std::lock_guard lock(mutex_);
    keys_.erase(std::string(key));
  }
  std::optional<std::size_t> size() const override {
    const std::lock_guard lock(mutex_);
    return keys_.size();
  }
  bool durable() const override { return true; }

 private:
  mutable std::mutex mutex_;
  std::set<std::string> keys_;
};

// A fresh directory under the temporary directory, removed at destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "tykhook-receiver-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A receiver serving on an ephemeral loopback port from a thread of its own, with the records
// of every request it logged and the threads that logged them.
class Running {
 public:
  explicit Running(ReceiverOptions options = {}, Dispatcher dispatcher = {}) {
    if (options.verifier.secrets.empty()) options.verifier.secrets.emplace_back(secret);
    options.on_request = [this](const RequestRecord& record) {
      const std::lock_guard lock(mutex_);
      records_.push_back(record);
      threads_.push_back(std::this_thread::get_id());
      recorded_.notify_all();
    };
    receiver_ = std::make_unique<Receiver>(std::move(options), std::move(dispatcher));
    port_ = receiver_->bind("127.0.0.1", 0);
    thread_ = std::thread([this] { receiver_->serve(); });
  }
  ~Running() {
    receiver_->stop();
    thread_.join();
  }

  int port() const { return port_; }
  Receiver& receiver() { return *receiver_; }
  /// The thread that runs serve(), and with it the event loop.
  std::thread::id serve_thread() const { return thread_.get_id(); }

  httplib::Client client() const {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(5s);
    client.set_connection_timeout(2s);
    return client;
  }

  // Sends `body` signed with `key` (no signature header when `signature` is "none").
  httplib::Result deliver(const std::string& body, const std::string& key = secret,
                          httplib::Headers headers = {}, const std::string& method = "POST",
                          const std::string& signature = "") const {
    if (signature.empty()) {
      headers.emplace("X-Signature-SHA256", sign(key, body));
    } else if (signature != "none") {
      headers.emplace("X-Signature-SHA256", signature);
    }
    httplib::Request request;
    request.method = method;
    request.path = "/webhooks/tyk";
    request.headers = std::move(headers);
    request.body = body;
    request.set_header("Content-Type", "application/json");
    return client().send(request);
  }

  // The record of the request that came from `client` ("IP:PORT"), once it is made.
  std::optional<RequestRecord> record_from(const std::string& client) {
    std::unique_lock lock(mutex_);
    const auto find = [&] {
      return std::find_if(records_.begin(), records_.end(),
                          [&](const RequestRecord& record) { return record.client == client; });
    };
    recorded_.wait_for(lock, 2s, [&] { return find() != records_.end(); });
    const auto found = find();
    return found == records_.end() ? std::nullopt : std::optional<RequestRecord>(*found);
  }
  // The records of the first `count` requests. A record (and the metrics) is made once the
  // response is written, so it can come a moment after the client has read the response.
  std::vector<RequestRecord> records(std::size_t count) {
    std::unique_lock lock(mutex_);
    recorded_.wait_for(lock, 2s, [&] { return records_.size() >= count; });
    return records_;
  }
  // The threads that logged the first `count` requests, in the same order.
  std::vector<std::thread::id> threads(std::size_t count) {
    std::unique_lock lock(mutex_);
    recorded_.wait_for(lock, 2s, [&] { return threads_.size() >= count; });
    return threads_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable recorded_;
  std::vector<RequestRecord> records_;
  std::vector<std::thread::id> threads_;
  std::unique_ptr<Receiver> receiver_;
  int port_ = 0;
  std::thread thread_;
};

ReceiverOptions with_store(std::shared_ptr<Store> store = open_store("memory:")) {
  ReceiverOptions options;
  options.verifier.store = std::move(store);
  options.verifier.schemas = SchemaRegistry::embedded();
  options.verifier.tolerance = 5min;
  return options;
}

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  return fd;
}

// Appends to `text` what the server sends next, waiting until `deadline` at most; false when
// nothing came (the server closed, or the time is up).
bool receive_more(int fd, std::string& text, std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  pollfd fds = {fd, POLLIN, 0};
  if (left.count() <= 0 || ::poll(&fds, 1, static_cast<int>(left.count())) <= 0) return false;
  char buffer[65536];
  const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
  if (n <= 0) return false;
  text.append(buffer, static_cast<std::size_t>(n));
  return true;
}

// Reads what the server sends until it closes, or `timeout` passes.
std::string read_until_closed(int fd, std::chrono::milliseconds timeout) {
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (receive_more(fd, text, deadline)) {
  }
  return text;
}

// Sends `bytes` as they are on a new connection and returns all the server answered.
std::string exchange(int port, const std::string& bytes, std::chrono::milliseconds timeout = 5s) {
  const int fd = connect_to(port);
  ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::string text = read_until_closed(fd, timeout);
  ::close(fd);
  return text;
}

int status_of(const std::string& response) {
  return response.starts_with("HTTP/1.1 ") ? std::atoi(response.c_str() + 9) : 0;
}

std::string header_of(const std::string& response, const std::string& name) {
  const std::regex pattern("\r\n" + name + ": ([^\r]*)\r\n", std::regex::icase);
  std::smatch match;
  return std::regex_search(response, match, pattern) ? match[1].str() : "";
}

std::string body_of(const std::string& response) {
  const auto end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

std::string metric_line(const std::string& metrics, const std::string& name) {
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with(name + " ")) return line;
  }
  return "";
}

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

}  // namespace

TEST_CASE("every answer of DESIGN's table comes back through a real request") {
  ReceiverOptions options = with_store();
  options.verifier.max_body = 4096;
  Running running(std::move(options));
  const std::string ok_body = fresh(sample("UserRegistered"));
  const std::string unknown = fresh(R"({"Event":"UserDeleted","Message":{"ID":3},"Timestamp":""})");

  const struct {
    std::string_view name;
    std::string body;
    std::string key;
    std::string signature;
    std::string method;
    int status;
    std::string_view verdict;
    std::string_view event;
  } cases[] = {
      {"a fresh signed sample", ok_body, secret, "", "POST", 200, "ok", "UserRegistered"},
      {"the same delivery again", ok_body, secret, "", "POST", 200, "duplicate", "UserRegistered"},
      {"a PUT delivery", fresh(sample("PasswordReset")), secret, "", "PUT", 200, "ok",
       "PasswordReset"},
      {"a PATCH delivery", fresh(sample("CredentialRegistered")), secret, "", "PATCH", 200, "ok",
       "CredentialRegistered"},
      {"no signature header", fresh(sample("UserAccountActivated")), secret, "none", "POST", 401,
       "missing_signature", ""},
      {"a signature that is not hex", fresh(sample("UserAccountActivated")), secret, "xyz", "POST",
       401, "malformed_signature", ""},
      {"a signature under another secret", fresh(sample("UserAccountActivated")), "other", "",
       "POST", 401, "signature_mismatch", ""},
      {"a Timestamp of 2024", sample("AccessRequestCreated"), secret, "", "POST", 401, "stale",
       "AccessRequestCreated"},
      {"a body over max_body", std::string(4097, ' '), secret, "", "POST", 413, "too_large", ""},
      {"an authentic body that is not JSON", "{not json", secret, "", "POST", 202, "malformed_json",
       ""},
      {"an authentic body without Message", R"({"Event":"UserRegistered"})", secret, "", "POST",
       202, "invalid_envelope", ""},
      {"an authentic unknown event", unknown, secret, "", "POST", 202, "unknown_event",
       "UserDeleted"},
      {"an authentic Message of the wrong shape", schema_broken, secret, "", "POST", 202,
       "schema_violation", "ApplicationRegistered"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto result = running.deliver(c.body, c.key, {}, c.method, c.signature);
    REQUIRE(result);
    CHECK(result->status == c.status);
    CHECK(result->get_header_value("X-Tykhook-Verdict") == c.verdict);
    const auto body = nlohmann::json::parse(result->body);
    CHECK(body["verdict"] == c.verdict);
    CHECK(body["event"] == (c.event.empty() ? nlohmann::json() : nlohmann::json(c.event)));
    CHECK(body.contains("errors") == (c.verdict != "ok"));
  }

  const std::string smuggled =
      "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"
      "\r\n0\r\n\r\n";
  const auto response = exchange(running.port(), smuggled);
  CHECK(status_of(response) == 400);
  CHECK(header_of(response, "X-Tykhook-Verdict") == "malformed_request");
  CHECK(body_of(response).find("request smuggling") != std::string::npos);
}

TEST_CASE("with reject_invalid, authentic but invalid deliveries are answered 400 and still kept") {
  TempDir captures;
  ReceiverOptions options = with_store();
  options.reject_invalid = true;
  options.capture_dir = captures.path();
  Running running(std::move(options));
  const struct {
    std::string_view verdict;
    std::string body;
  } cases[] = {
      {"malformed_json", "[1, 2"},
      {"invalid_envelope", R"({"Event":"UserRegistered","Message":[],"Timestamp":"x"})"},
      {"unknown_event", fresh(R"({"Event":"UserDeleted","Message":{},"Timestamp":""})")},
      {"schema_violation", schema_broken},
  };
  for (const auto& c : cases) {
    CAPTURE(c.verdict);
    const auto result = running.deliver(c.body);
    REQUIRE(result);
    CHECK(result->status == 400);
    CHECK(result->get_header_value("X-Tykhook-Verdict") == c.verdict);
  }
  CHECK(files_in(captures.path()).size() == std::size(cases));
  // An ok delivery is not affected.
  const auto ok = running.deliver(fresh(sample("UserRegistered")));
  REQUIRE(ok);
  CHECK(ok->status == 200);
}

TEST_CASE("HEAD on any path, GET /healthz and unknown GET paths are answered without a verdict") {
  ReceiverOptions options = with_store();
  options.required_header = Header{"X-Portal-Token", "t0ken"};
  Running running(std::move(options));
  const struct {
    std::string_view name;
    std::string method;
    std::string path;
    int status;
  } cases[] = {
      {"the portal's Test Connection", "HEAD", "/webhooks/tyk", 200},
      {"HEAD on the root", "HEAD", "/", 200},
      {"HEAD on a query", "HEAD", "/x?y=1", 200},
      {"the health check", "GET", "/healthz", 200},
      {"the metrics", "GET", "/metrics", 200},
      {"another GET path", "GET", "/webhooks/tyk", 404},
      {"a DELETE", "DELETE", "/webhooks/tyk", 405},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto response =
        exchange(running.port(), c.method + " " + c.path + " HTTP/1.1\r\nHost: x\r\n" +
                                     "Connection: close\r\n\r\n");
    CHECK(status_of(response) == c.status);
    CHECK(header_of(response, "X-Tykhook-Verdict").empty());
    if (c.method == "HEAD") CHECK(body_of(response).empty());
  }
}

TEST_CASE("a body announced as 100 MiB is refused with 413 before it is read") {
  Running running(with_store());
  const auto started = std::chrono::steady_clock::now();
  const auto response = exchange(running.port(),
                                 "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n"
                                 "X-Signature-SHA256: 00\r\n\r\n{\"Ev",
                                 10s);
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(status_of(response) == 413);
  CHECK(header_of(response, "X-Tykhook-Verdict") == "too_large");
  CHECK(header_of(response, "Connection") == "close");
  CHECK(body_of(response).find("104857600") != std::string::npos);
  CHECK(took < 1s);
}

TEST_CASE("a client that waits for 100 Continue learns of a refusal before sending its body") {
  Running running(with_store());
  const auto response = exchange(running.port(),
                                 "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n"
                                 "Expect: 100-continue\r\n\r\n");
  CHECK(status_of(response) == 413);
  CHECK(header_of(response, "X-Tykhook-Verdict") == "too_large");
}

TEST_CASE("a chunked body is held to the same limit as any other") {
  ReceiverOptions options = with_store();
  options.verifier.max_body = 1000;
  Running running(std::move(options));
  const std::string chunk(600, 'a');
  const auto chunked = [&](int chunks) {
    std::string request =
        "POST /hook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
        "X-Signature-SHA256: " +
        sign(secret, std::string(600 * static_cast<std::size_t>(chunks), 'a')) + "\r\n\r\n";
    for (int i = 0; i < chunks; ++i) request += "258\r\n" + chunk + "\r\n";
    return request + "0\r\n\r\n";
  };
  const auto over = exchange(running.port(), chunked(2));
  CHECK(status_of(over) == 413);
  CHECK(header_of(over, "X-Tykhook-Verdict") == "too_large");
  // Within the limit, the chunks are joined into the body that was signed.
  const auto within = exchange(running.port(), chunked(1));
  CHECK(status_of(within) == 202);
  CHECK(header_of(within, "X-Tykhook-Verdict") == "malformed_json");
}

TEST_CASE("headers over the count or size limits are refused as a malformed_request") {
  ReceiverOptions options = with_store();
  options.max_headers = 10;
  options.max_header_bytes = 2048;
  Running running(std::move(options));
  const auto with_headers = [](int count, std::size_t size) {
    std::string request = "POST /hook HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < count; ++i) {
      request += "X-H" + std::to_string(i) + ": " + std::string(size, 'v') + "\r\n";
    }
    return request + "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
  };
  const struct {
    std::string_view name;
    std::string request;
    int status;
    std::string_view verdict;
  } cases[] = {
      {"a few small headers", with_headers(5, 10), 401, "missing_signature"},
      {"too many headers", with_headers(20, 1), 400, "malformed_request"},
      {"one header too large", with_headers(1, 4000), 400, "malformed_request"},
      {"a header line with a bare LF",
       "POST /hook HTTP/1.1\r\nHost: x\nContent-Length: 2\r\nConnection: close\r\n\r\n{}", 400,
       "malformed_request"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto response = exchange(running.port(), c.request);
    CHECK(status_of(response) == c.status);
    CHECK(header_of(response, "X-Tykhook-Verdict") == c.verdict);
  }
}

TEST_CASE("a client that sends one byte at a time is cut off by the read timeout") {
  ReceiverOptions options = with_store();
  options.read_timeout = 1s;
  Running running(std::move(options));
  const auto trickle = [&](const std::string& at_once, const std::string& slowly) {
    const int fd = connect_to(running.port());
    ::send(fd, at_once.data(), at_once.size(), MSG_NOSIGNAL);
    const auto started = std::chrono::steady_clock::now();
    std::string answer;
    for (const char byte : slowly) {
      ::send(fd, &byte, 1, MSG_NOSIGNAL);
      pollfd fds = {fd, POLLIN, 0};
      if (::poll(&fds, 1, 200) > 0) {
        answer = read_until_closed(fd, 3s);
        break;
      }
      if (std::chrono::steady_clock::now() - started > 5s) break;
    }
    const auto took = std::chrono::steady_clock::now() - started;
    ::close(fd);
    return std::make_pair(answer, took);
  };

  SUBCASE("in the headers") {
    const auto [answer, took] =
        trickle("POST /hook HTTP/1.1\r\n", "Host: example.test\r\nX-Slow: " + std::string(60, 'a'));
    CHECK(status_of(answer) == 400);
    CHECK(header_of(answer, "X-Tykhook-Verdict") == "malformed_request");
    CHECK(body_of(answer).find("read timeout") != std::string::npos);
    CHECK(took > 800ms);
    CHECK(took < 2500ms);
  }
  SUBCASE("in the body") {
    const std::string body = fresh(sample("UserRegistered"));
    const auto [answer, took] =
        trickle("POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\nX-Signature-SHA256: " + sign(secret, body) + "\r\n\r\n",
                body);
    CHECK(status_of(answer) == 400);
    CHECK(header_of(answer, "X-Tykhook-Verdict") == "malformed_request");
    CHECK(body_of(answer).find("read timeout") != std::string::npos);
    CHECK(took > 800ms);
    CHECK(took < 2500ms);
  }
  // The receiver keeps serving others.
  const auto result = running.deliver(fresh(sample("PasswordReset")));
  REQUIRE(result);
  CHECK(result->status == 200);
}

TEST_CASE("a handler that throws is answered 500, its claim released, and serving goes on") {
  std::atomic<int> calls{0};
  Dispatcher dispatcher;
  dispatcher.on(Event::UserRegistered, [&](const Verdict&) {
    if (calls++ == 0) throw std::runtime_error("database is down");
  });
  TempDir captures;
  ReceiverOptions options = with_store();
  options.capture_dir = captures.path();
  Running running(std::move(options), std::move(dispatcher));
  const std::string body = fresh(sample("UserRegistered"));

  const auto failed = running.deliver(body);
  REQUIRE(failed);
  CHECK(failed->status == 500);
  CHECK(failed->get_header_value("X-Tykhook-Verdict") == "error");
  CHECK(failed->body.find("database is down") == std::string::npos);  // details stay in the log
  // It was captured before the handler ran.
  CHECK(files_in(captures.path()).size() == 1);

  const auto again = running.deliver(body);
  REQUIRE(again);
  CHECK(again->status == 200);
  CHECK(again->get_header_value("X-Tykhook-Verdict") == "ok");
  CHECK(calls == 2);

  // A record is made once its answer is sent: the second one may come first.
  auto records = running.records(2);
  REQUIRE(records.size() == 2);
  if (records[0].status != 500) std::swap(records[0], records[1]);
  CHECK(records[0].status == 500);
  CHECK(records[0].verdict == "error");
  CHECK(records[0].error.find("database is down") != std::string::npos);
  CHECK(records[1].status == 200);
  CHECK(metric_line(running.receiver().metrics(), "tykhook_handler_errors_total") ==
        "tykhook_handler_errors_total 1");
}

TEST_CASE("a store that fails is answered 503, counted, and serving goes on") {
  const auto store = std::make_shared<FlakyStore>();
  Running running(with_store(store));
  const std::string body = fresh(sample("OrganisationRegistered"));
  store->failing = true;
  const auto failed = running.deliver(body);
  REQUIRE(failed);
  CHECK(failed->status == 503);
  CHECK(failed->get_header_value("X-Tykhook-Verdict") == "error");
  CHECK(failed->body.find("connection refused") == std::string::npos);
  REQUIRE(running.records(1).size() == 1);
  CHECK(metric_line(running.receiver().metrics(), "tykhook_store_errors_total") ==
        "tykhook_store_errors_total 1");

  store->failing = false;
  const auto again = running.deliver(body);
  REQUIRE(again);
  CHECK(again->status == 200);
  CHECK(again->get_header_value("X-Tykhook-Verdict") == "ok");
  const auto records = running.records(2);
  REQUIRE(records.size() == 2);
  CHECK(records[0].error.find("connection refused") != std::string::npos);
}

TEST_CASE("capture files sort by arrival, carry the key, have mode 0600 and re-verify the same") {
  TempDir captures;
  ReceiverOptions options = with_store();
  options.capture_dir = captures.path();
  options.required_header = Header{"X-Portal-Token", "t0ken"};
  Running running(std::move(options));
  const httplib::Headers token = {{"X-Portal-Token", "t0ken"}};

  const std::string ok_body = fresh(sample("UserRegistered"));
  const struct {
    std::string body;
    std::string key;
    std::string_view verdict;
    bool captured;
  } sent[] = {
      {ok_body, secret, "ok", true},
      {ok_body, secret, "duplicate", false},
      {schema_broken, secret, "schema_violation", true},
      {schema_broken, secret, "schema_violation", false},  // kept once
      {sample("AccessRequestApproved"), secret, "stale", true},
      {fresh(sample("PasswordReset")), "other", "signature_mismatch", false},
      {fresh(sample("PasswordReset")), secret, "ok", true},
  };
  std::vector<std::string> want_keys;
  std::vector<std::string_view> want_verdicts;
  for (const auto& delivery : sent) {
    CAPTURE(delivery.verdict);
    const auto result = running.deliver(delivery.body, delivery.key, token);
    REQUIRE(result);
    CHECK(result->get_header_value("X-Tykhook-Verdict") == delivery.verdict);
    if (delivery.captured) {
      want_keys.push_back(idempotency_key(delivery.body));
      want_verdicts.push_back(delivery.verdict);
    }
  }

  const auto files = files_in(captures.path());
  REQUIRE(files.size() == want_keys.size());
  const std::regex name_form(R"(\d{8}T\d{6}\.\d{9}Z-([0-9a-f]{64})\.json)");
  // A stale delivery is stale again as of the time it was received.
  const auto verifier_for = [](std::string_view verdict) {
    VerifierOptions options{.secrets = {Secret(secret)}, .schemas = SchemaRegistry::embedded()};
    if (verdict == "stale") options.tolerance = std::chrono::minutes(5);
    return Verifier(std::move(options));
  };
  for (std::size_t i = 0; i < files.size(); ++i) {
    const std::string name = files[i].filename().string();
    CAPTURE(name);
    std::smatch match;
    REQUIRE(std::regex_match(name, match, name_form));
    CHECK(match[1].str() == want_keys[i]);  // sorted by name is the order of arrival
    struct stat info {};
    REQUIRE(::stat(files[i].c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0600);

    const std::string text = read_file(files[i]);
    CHECK(text.find("t0ken") == std::string::npos);
    CHECK(text.find(secret) == std::string::npos);
    const auto captured = read_captures(text, name);
    REQUIRE(captured.size() == 1);
    REQUIRE(captured[0].request);
    const auto document = nlohmann::json::parse(text);
    const TimePoint received = *parse_rfc3339(document["received"].get<std::string>());
    const Verdict verdict = verifier_for(want_verdicts[i]).verify(*captured[0].request, received);
    CHECK(to_string(verdict.kind) == want_verdicts[i]);
  }
}

TEST_CASE("a capture that cannot be written is answered 503 and its claim released") {
  TempDir captures;
  ReceiverOptions options = with_store();
  options.capture_dir = captures.path() / "deliveries";
  Running running(std::move(options));
  // A directory removed under the receiver: no file can be created in it any more.
  fs::remove_all(captures.path() / "deliveries");
  const std::string body = fresh(sample("UserRegistered"));
  for (int attempt = 0; attempt < 2; ++attempt) {
    CAPTURE(attempt);
    const auto result = running.deliver(body);
    REQUIRE(result);
    CHECK(result->status == 503);  // the second time too: not a duplicate
    CHECK(result->get_header_value("X-Tykhook-Verdict") == "error");
  }
  const auto records = running.records(2);
  REQUIRE(records.size() == 2);
  CHECK(metric_line(running.receiver().metrics(), "tykhook_capture_errors_total") ==
        "tykhook_capture_errors_total 2");
  CHECK(records[0].error.find("cannot create") != std::string::npos);
}

TEST_CASE("the required header is refused when missing or wrong, and HEAD is exempt") {
  ReceiverOptions options = with_store();
  options.required_header = Header{"X-Portal-Token", " t0ken "};
  Running running(std::move(options));
  const struct {
    std::string_view name;
    httplib::Headers headers;
    int status;
    std::string_view verdict;
  } cases[] = {
      {"the right value", {{"X-Portal-Token", "t0ken"}}, 200, "ok"},
      {"the name in another case", {{"x-portal-token", "t0ken"}}, 200, "ok"},
      {"no header", {}, 401, "rejected"},
      {"a wrong value", {{"X-Portal-Token", "t0ken2"}}, 401, "rejected"},
      {"an empty value", {{"X-Portal-Token", ""}}, 401, "rejected"},
      {"the header twice",
       {{"X-Portal-Token", "t0ken"}, {"X-Portal-Token", "t0ken"}},
       401,
       "rejected"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto result = running.deliver(fresh(sample("UserRegistered")), secret, c.headers);
    REQUIRE(result);
    CHECK(result->status == c.status);
    CHECK(result->get_header_value("X-Tykhook-Verdict") == c.verdict);
    if (c.verdict == "rejected") {
      CHECK(result->body.find("X-Portal-Token") != std::string::npos);
      CHECK(result->body.find("t0ken") == std::string::npos);
    }
  }
  const auto head = running.client().Head("/webhooks/tyk");
  REQUIRE(head);
  CHECK(head->status == 200);
}

TEST_CASE("stop finishes the requests in flight, then serve returns") {
  std::atomic<int> started{0};
  Dispatcher dispatcher;
  dispatcher.on_any([&](const Verdict&) {
    ++started;
    std::this_thread::sleep_for(600ms);
  });
  auto running = std::make_unique<Running>(with_store(), std::move(dispatcher));
  std::vector<std::thread> senders;
  std::atomic<int> answered_ok{0};
  for (const std::string event : {"UserRegistered", "PasswordReset", "ApplicationRegistered"}) {
    senders.emplace_back([&, event] {
      const auto result = running->deliver(fresh(sample(event)));
      if (result && result->status == 200) ++answered_ok;
    });
  }
  while (started < 3) std::this_thread::sleep_for(5ms);
  const auto stopping = std::chrono::steady_clock::now();
  running.reset();  // stop(), then wait for serve() to return
  for (auto& sender : senders) sender.join();
  CHECK(answered_ok == 3);
  CHECK(std::chrono::steady_clock::now() - stopping < 3s);
}

TEST_CASE("metrics count deliveries by event and verdict, statuses and latency") {
  Running running(with_store());
  const std::string body = fresh(sample("UserRegistered"));
  REQUIRE(running.deliver(body));
  REQUIRE(running.deliver(body));
  REQUIRE(running.deliver(body, "other"));
  REQUIRE(running.client().Head("/"));
  REQUIRE(running.records(4).size() == 4);
  const auto result = running.client().Get("/metrics");
  REQUIRE(result);
  CHECK(result->status == 200);
  CHECK(result->get_header_value("Content-Type").starts_with("text/plain; version=0.0.4"));
  const std::string& metrics = result->body;
  const std::string_view want[] = {
      R"(tykhook_deliveries_total{event="UserRegistered",verdict="ok"} 1)",
      R"(tykhook_deliveries_total{event="UserRegistered",verdict="duplicate"} 1)",
      R"(tykhook_deliveries_total{event="none",verdict="signature_mismatch"} 1)",
      R"(tykhook_responses_total{status="200"} 3)",
      R"(tykhook_responses_total{status="401"} 1)",
      R"(tykhook_delivery_duration_seconds_bucket{le="+Inf"} 3)",
      "tykhook_delivery_duration_seconds_count 3",
      "tykhook_store_errors_total 0",
      "# TYPE tykhook_delivery_duration_seconds histogram",
  };
  for (const auto line : want) {
    CAPTURE(line);
    CHECK(metrics.find(std::string(line) + "\n") != std::string::npos);
  }
}

TEST_CASE("an unknown event's name never becomes a metric label") {
  ReceiverOptions options = with_store();
  options.verifier.allow_unknown_events = true;
  Running running(std::move(options));
  const auto result =
      running.deliver(fresh(R"({"Event":"Evil\"} 1\n","Message":{},"Timestamp":""})"));
  REQUIRE(result);
  CHECK(result->status == 200);
  REQUIRE(running.records(1).size() == 1);
  CHECK(running.receiver().metrics().find(
            R"(tykhook_deliveries_total{event="unknown",verdict="ok"} 1)") != std::string::npos);
}

TEST_CASE("log records name the request but hold no body, signature or secret") {
  Running running(with_store());
  const std::string body = fresh(sample("UserRegistered"));
  REQUIRE(running.deliver(body));
  const auto records = running.records(1);
  REQUIRE(records.size() == 1);
  const RequestRecord& record = records[0];
  CHECK(record.method == "POST");
  CHECK(record.path == "/webhooks/tyk");
  CHECK(record.client.starts_with("127.0.0.1:"));
  CHECK(record.event == "UserRegistered");
  CHECK(record.verdict == "ok");
  CHECK(record.status == 200);
  CHECK(record.duration > std::chrono::microseconds(0));
  for (const std::string& field : {record.client, record.method, record.path, record.error}) {
    CHECK(field.find(sign(secret, body)) == std::string::npos);
    CHECK(field.find(secret) == std::string::npos);
    CHECK(field.find("developer@user.com") == std::string::npos);
  }
}

TEST_CASE("one connection carries several deliveries") {
  Running running(with_store());
  httplib::Client client("127.0.0.1", running.port());
  client.set_keep_alive(true);
  client.set_tcp_nodelay(true);
  for (const std::string event : {"UserRegistered", "PasswordReset", "OrganisationRegistered"}) {
    CAPTURE(event);
    const std::string body = fresh(sample(event));
    const auto result = client.Post("/hook", {{"X-Signature-SHA256", sign(secret, body)}}, body,
                                    "application/json");
    REQUIRE(result);
    CHECK(result->status == 200);
  }
  const auto records = running.records(3);
  REQUIRE(records.size() == 3);
  CHECK(records[0].client == records[2].client);
}

TEST_CASE("a client that waits for 100 Continue gets it, sends its body, and is answered") {
  Running running(with_store());
  const std::string body = fresh(sample("UserRegistered"));
  const int fd = connect_to(running.port());
  const std::string head =
      "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "X-Signature-SHA256: " +
      sign(secret, body) + "\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n";
  ::send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  // The body goes only once "100 Continue" has come: the receiver must send it unasked.
  char interim[64] = {};
  pollfd fds = {fd, POLLIN, 0};
  REQUIRE(::poll(&fds, 1, 5000) == 1);
  const ssize_t n = ::recv(fd, interim, sizeof interim - 1, 0);
  REQUIRE(n > 0);
  CHECK(
      std::string_view(interim, static_cast<std::size_t>(n)).starts_with("HTTP/1.1 100 Continue"));
  ::send(fd, body.data(), body.size(), MSG_NOSIGNAL);
  const std::string response = read_until_closed(fd, 5s);
  ::close(fd);
  CHECK(status_of(response) == 200);
  CHECK(header_of(response, "X-Tykhook-Verdict") == "ok");
}

TEST_CASE("16 connections delivering at once are each answered once their delivery is durable") {
  // With a durable store and a capture directory, concurrent deliveries share their commits and
  // fsyncs; each answer still comes after its own claim and capture file are written.
  constexpr int client_count = 16;
  constexpr int per_client = 4;
  TempDir dir;
  ReceiverOptions options = with_store(open_store("sqlite:" + (dir.path() / "claims.db").string()));
  const std::shared_ptr<Store> store = options.verifier.store;
  options.capture_dir = dir.path() / "captures";
  Running running(std::move(options));

  // Each delivery is made unique by its Timestamp, a nanosecond apart.
  const auto base = now();
  std::vector<std::string> bodies;
  const std::string user = sample("UserRegistered");
  const std::string member = "\"Timestamp\":\"";
  for (int i = 0; i < client_count * per_client; ++i) {
    std::string body = user;
    const auto start = body.rfind(member) + member.size();
    body.replace(start, body.find('"', start) - start,
                 format_rfc3339(base - std::chrono::nanoseconds(i)));
    bodies.push_back(std::move(body));
  }
  std::vector<std::string> verdicts(bodies.size());
  std::vector<int> statuses(bodies.size());
  std::vector<std::thread> clients;
  for (int c = 0; c < client_count; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", running.port());
      client.set_keep_alive(true);
      client.set_read_timeout(10s);
      for (int k = 0; k < per_client; ++k) {
        const std::size_t i = static_cast<std::size_t>(c * per_client + k);
        const auto result = client.Post("/hook", {{"X-Signature-SHA256", sign(secret, bodies[i])}},
                                        bodies[i], "application/json");
        if (result) {
          statuses[i] = result->status;
          verdicts[i] = result->get_header_value("X-Tykhook-Verdict");
        }
      }
    });
  }
  for (auto& client : clients) client.join();

  std::set<std::string> want_keys;
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    CAPTURE(i);
    CHECK(statuses[i] == 200);
    CHECK(verdicts[i] == "ok");
    want_keys.insert(idempotency_key(bodies[i]));
  }
  REQUIRE(want_keys.size() == bodies.size());
  std::set<std::string> captured_keys;
  for (const auto& file : files_in(dir.path() / "captures")) {
    const std::string name = file.filename().string();
    CHECK_FALSE(name.starts_with("."));  // no temporary file is left
    captured_keys.insert(name.substr(name.size() - 64 - 5, 64));
  }
  CHECK(captured_keys == want_keys);
  int unclaimed = 0;
  for (const auto& key : want_keys) unclaimed += store->claim(key, 1min) ? 1 : 0;
  CHECK(unclaimed == 0);
}

TEST_CASE("misuse of the receiver is refused with invalid_argument") {
  const auto options_with = [](auto change) {
    ReceiverOptions options;
    options.verifier.secrets.emplace_back(secret);
    change(options);
    return options;
  };
  CHECK_THROWS_WITH_AS(Receiver(options_with([](ReceiverOptions& o) { o.threads = 0; })),
                       "tykhook::Receiver: threads is 0; give a positive value",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(Receiver(options_with([](ReceiverOptions& o) { o.read_timeout = 0ms; })),
                       "tykhook::Receiver: read_timeout is 0; give a positive value",
                       std::invalid_argument);
  CHECK_THROWS_AS(Receiver(options_with([](ReceiverOptions& o) {
                    o.required_header = Header{"X Token", "v"};
                  })),
                  std::invalid_argument);
  CHECK_THROWS_AS(Receiver(ReceiverOptions{}), std::invalid_argument);  // no secret
  Receiver receiver(options_with([](ReceiverOptions&) {}));
  CHECK_THROWS_WITH_AS(receiver.serve(), "tykhook::Receiver::serve: not bound; call bind() first",
                       std::invalid_argument);
  const int port = receiver.bind("127.0.0.1", 0);
  CHECK(port > 0);
  CHECK(receiver.port() == port);
  Receiver second(options_with([](ReceiverOptions&) {}));
  CHECK_THROWS_AS(second.bind("127.0.0.1", port), Error);  // the port is taken
}

namespace {

// A raw HTTP/1.1 delivery of `body`, signed with `key` (no signature header when `key` is
// empty), with `extra` header lines (each ending in CRLF) before its Content-Length.
std::string raw_delivery(const std::string& body, const std::string& extra = "",
                         const std::string& request_line = "POST /webhooks/tyk HTTP/1.1",
                         const std::string& key = secret) {
  std::string request = request_line + "\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
  if (!key.empty()) request += "X-Signature-SHA256: " + sign(key, body) + "\r\n";
  return request + extra + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Reads `count` responses (each a head and its Content-Length body) from `fd`, waiting 5 s at
// most; fewer when the connection ends or the time is up.
std::vector<std::string> read_responses(int fd, std::size_t count) {
  std::vector<std::string> responses;
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (responses.size() < count) {
    const auto end = text.find("\r\n\r\n");
    if (end != std::string::npos) {
      const std::string length = header_of(text.substr(0, end + 2), "Content-Length");
      const std::size_t size = end + 4 + std::stoull(length.empty() ? "0" : length);
      if (text.size() >= size) {
        responses.push_back(text.substr(0, size));
        text.erase(0, size);
        continue;
      }
    }
    if (!receive_more(fd, text, deadline)) break;
  }
  return responses;
}

std::string read_response(int fd) {
  const auto responses = read_responses(fd, 1);
  return responses.empty() ? "" : responses.front();
}

// Sends `request` on a new connection, whole in one write or in two (the head, then after a
// pause the body, so that the receiver has read the head alone), and returns the response;
// `client` is set to the connection's "IP:PORT" as the receiver's log record names it.
std::string send_request(int port, const std::string& request, bool in_parts,
                         std::string* client = nullptr) {
  const int fd = connect_to(port);
  if (client != nullptr) {
    sockaddr_in local{};
    socklen_t length = sizeof local;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0);
    *client = "127.0.0.1:" + std::to_string(ntohs(local.sin_port));
  }
  const std::size_t cut = in_parts ? request.find("\r\n\r\n") + 4 : request.size();
  ::send(fd, request.data(), cut, MSG_NOSIGNAL);
  if (in_parts) {
    std::this_thread::sleep_for(50ms);
    ::send(fd, request.data() + cut, request.size() - cut, MSG_NOSIGNAL);
  }
  std::string response = read_response(fd);
  ::close(fd);
  return response;
}

// Each delivery made by `make` (called once per side), sent whole and in parts: the two
// responses and the two log records must be the same.
void check_same_either_way(Running& running, const std::function<std::string()>& make,
                           int expected_status) {
  const std::string whole = make();
  REQUIRE(detail::plain_delivery(whole, 16 * 1024, 64));  // the receiver serves it itself
  std::string whole_client, parts_client;
  const std::string whole_response = send_request(running.port(), whole, false, &whole_client);
  const std::string parts_response = send_request(running.port(), make(), true, &parts_client);
  CHECK(status_of(whole_response) == expected_status);
  CHECK(whole_response == parts_response);
  const auto whole_record = running.record_from(whole_client);
  const auto parts_record = running.record_from(parts_client);
  REQUIRE(whole_record);
  REQUIRE(parts_record);
  const RequestRecord& a = *whole_record;
  const RequestRecord& b = *parts_record;
  CHECK(a.method == b.method);
  CHECK(a.path == b.path);
  CHECK(a.status == b.status);
  CHECK(a.verdict == b.verdict);
  CHECK(a.event == b.event);
  CHECK(a.error == b.error);
}

}  // namespace

TEST_CASE("plain_delivery takes whole plain deliveries only and leaves the rest to the engine") {
  const std::string body = fresh(sample("UserRegistered"));
  const std::string whole = raw_delivery(body);
  const auto plain = detail::plain_delivery(whole, 16 * 1024, 64);
  REQUIRE(plain);
  CHECK(plain->head_size == whole.find("\r\n\r\n") + 4);
  CHECK(plain->body_size == body.size());
  CHECK(plain->head.method == "POST");
  CHECK(plain->head.target == "/webhooks/tyk");
  CHECK(plain->head.values("x-signature-sha256") ==
        std::vector<std::string_view>{sign(secret, body)});
  // A request behind it (pipelined) does not change what it is.
  const auto pipelined = detail::plain_delivery(whole + "GET / HTTP/1.1\r\n\r\n", 16 * 1024, 64);
  REQUIRE(pipelined);
  CHECK(pipelined->head_size == plain->head_size);
  CHECK(
      detail::plain_delivery(raw_delivery(body, "", "PUT /hook?a=1&b=2 HTTP/1.1"), 16 * 1024, 64));
  CHECK(detail::plain_delivery(raw_delivery(body, "", "PATCH / HTTP/1.1"), 16 * 1024, 64));
  CHECK(detail::plain_delivery(raw_delivery("", ""), 16 * 1024, 64));  // an empty body

  // Still arriving: the head alone, or the body but its last byte.
  CHECK_FALSE(detail::plain_delivery(whole.substr(0, plain->head_size), 16 * 1024, 64));
  CHECK_FALSE(detail::plain_delivery(whole.substr(0, whole.size() - 1), 16 * 1024, 64));
  CHECK_FALSE(detail::plain_delivery(whole.substr(0, plain->head_size - 2), 16 * 1024, 64));
  // Headers that change how the engine reads or answers a request.
  for (const std::string extra :
       {"Transfer-Encoding: chunked\r\n", "Expect: 100-continue\r\n", "Connection: close\r\n",
        "connection: keep-alive\r\n", "Range: bytes=0-1\r\n", "Accept-Encoding: gzip\r\n",
        "Content-Encoding: identity\r\n", "Content-Length: 3\r\n"}) {
    CAPTURE(extra);
    CHECK_FALSE(detail::plain_delivery(raw_delivery(body, extra), 16 * 1024, 64));
  }
  // Request lines that are not a plain delivery.
  for (const std::string& line : std::vector<std::string>{
           "POST /a%0Ab HTTP/1.1", "POST /a#b HTTP/1.1", "POST a HTTP/1.1", "POST /a HTTP/1.0",
           "GET /a HTTP/1.1", "DELETE /a HTTP/1.1", "POST /a b HTTP/1.1", " POST /a HTTP/1.1",
           "POST  /a HTTP/1.1", "P@ST /a HTTP/1.1", "POST /a\x01 HTTP/1.1",
           "POST /" + std::string(2048, 'a') + " HTTP/1.1"}) {
    CAPTURE(line);
    CHECK_FALSE(detail::plain_delivery(raw_delivery(body, "", line), 16 * 1024, 64));
  }
  // The head parser itself: three words, a token for the method, one space apart.
  CHECK(detail::parse_head("POST /a HTTP/1.1\r\n\r\n"));
  for (const std::string line : {" POST /a HTTP/1.1", "POST  /a HTTP/1.1", "POST /a  HTTP/1.1",
                                 "P@ST /a HTTP/1.1", "POST /a b HTTP/1.1", "POST /a ", "POST"}) {
    CAPTURE(line);
    const auto parsed = detail::parse_head(line + "\r\n\r\n");
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error == "request line: expected \"METHOD TARGET HTTP/1.1\"");
  }
  // Content-Length values that are not a plain byte count, and no Content-Length at all.
  for (const std::string length : {"+5", "", "1e3", " 5x", "1234567890123456789"}) {
    CAPTURE(length);
    const std::string request = "POST / HTTP/1.1\r\nContent-Length: " + length + "\r\n\r\n" + body;
    CHECK_FALSE(detail::plain_delivery(request, 16 * 1024, 64));
  }
  CHECK_FALSE(detail::plain_delivery("POST / HTTP/1.1\r\nHost: x\r\n\r\n", 16 * 1024, 64));
  // Heads the strict parser refuses, or over the limits: the engine words the refusal.
  std::string bare_lf = whole;
  bare_lf.replace(bare_lf.find("\r\nHost"), 2, "\n");
  CHECK_FALSE(detail::plain_delivery(bare_lf, 16 * 1024, 64));
  CHECK_FALSE(detail::plain_delivery(raw_delivery(body, " folded\r\n"), 16 * 1024, 64));
  CHECK_FALSE(detail::plain_delivery(raw_delivery(body, "Bad Name: v\r\n"), 16 * 1024, 64));
  CHECK_FALSE(detail::plain_delivery(whole, plain->head_size - 1, 64));
  CHECK(detail::plain_delivery(whole, plain->head_size, 64));
  CHECK_FALSE(detail::plain_delivery(whole, 16 * 1024, 2));
}

TEST_CASE("a delivery that arrives whole is answered byte for byte as one that arrives in parts") {
  Running running(with_store());
  const std::string once = fresh(sample("PasswordReset"));
  REQUIRE(status_of(send_request(running.port(), raw_delivery(once), false)) == 200);
  const std::vector<std::tuple<std::string, std::function<std::string()>, int>> cases = {
      {"ok", [] { return raw_delivery(fresh(sample("UserRegistered"))); }, 200},
      {"duplicate", [&] { return raw_delivery(once); }, 200},
      {"PUT with a query",
       [] {
         return raw_delivery(fresh(sample("ApplicationRegistered")), "", "PUT /t?x=1 HTTP/1.1");
       },
       200},
      {"signature_mismatch",
       [] { return raw_delivery(fresh(sample("UserRegistered")), "", "POST / HTTP/1.1", "other"); },
       401},
      {"missing_signature",
       [] { return raw_delivery(fresh(sample("UserRegistered")), "", "POST / HTTP/1.1", ""); },
       401},
      {"malformed_json", [] { return raw_delivery(R"({"Event":)"); }, 202},
      {"schema_violation",
       [] {
         return raw_delivery(fresh(R"({"Event":"ApplicationRegistered","Message":{"ID":"1"},)"
                                   R"("Timestamp":""})"));
       },
       202},
      {"unknown_event",
       [] { return raw_delivery(fresh(R"({"Event":"NoSuchEvent","Message":{},"Timestamp":""})")); },
       202},
      {"an empty body", [] { return raw_delivery(""); }, 202},
  };
  for (const auto& [name, make, status] : cases) {
    CAPTURE(name);
    check_same_either_way(running, make, status);
  }

  // Two deliveries in one write: both answered, in order, on the one connection.
  const int fd = connect_to(running.port());
  const std::string two =
      raw_delivery(fresh(sample("UserRegistered"))) + raw_delivery(fresh(sample("PasswordReset")));
  ::send(fd, two.data(), two.size(), MSG_NOSIGNAL);
  const auto responses = read_responses(fd, 2);
  ::close(fd);
  REQUIRE(responses.size() == 2);
  CHECK(status_of(responses[0]) == 200);
  CHECK(header_of(responses[0], "Keep-Alive") == "timeout=5, max=100");
  CHECK(body_of(responses[0]) == R"({"verdict":"ok","event":"UserRegistered"})");
  CHECK(body_of(responses[1]) == R"({"verdict":"ok","event":"PasswordReset"})");
}

TEST_CASE("refusals of a whole delivery are the engine's too: required header, body limit") {
  ReceiverOptions options = with_store();
  options.required_header = Header{"X-Portal-Token", "s3cr3t"};
  options.verifier.max_body = 512;
  Running running(std::move(options));
  const std::string token = "X-Portal-Token: s3cr3t\r\n";
  check_same_either_way(
      running, [&] { return raw_delivery(fresh(sample("UserRegistered")), token); }, 200);
  check_same_either_way(
      running, [] { return raw_delivery(fresh(sample("UserRegistered"))); }, 401);
  check_same_either_way(
      running,
      [] { return raw_delivery(fresh(sample("UserRegistered")), "X-Portal-Token: wrong\r\n"); },
      401);
  check_same_either_way(
      running, [&] { return raw_delivery(std::string(600, ' ') + "{}", token); }, 413);
  const std::string refused = send_request(running.port(), raw_delivery("{}"), false);
  CHECK(header_of(refused, "Connection") == "close");
}

// ---- connections: idle limits, the connection limit, stopping ---------------------------------

namespace {

using Steady = std::chrono::steady_clock;

// A connection that has had one delivery answered and is kept alive.
int kept_alive_connection(int port) {
  const int fd = connect_to(port);
  const std::string request = raw_delivery(fresh(sample("UserRegistered")));
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  REQUIRE(status_of(read_response(fd)) == 200);
  return fd;
}

// How long the server takes to close `fd` (reading nothing more), at most `limit`.
Steady::duration until_closed(int fd, std::chrono::milliseconds limit) {
  const auto start = Steady::now();
  CHECK(read_until_closed(fd, limit).empty());
  return Steady::now() - start;
}

bool still_open(int fd) {
  pollfd fds = {fd, POLLIN, 0};
  return ::poll(&fds, 1, 0) == 0;
}

}  // namespace

TEST_CASE(
    "an idle connection is closed: kept alive after keep_alive_timeout, new after "
    "read_timeout") {
  ReceiverOptions options = with_store();
  options.keep_alive_timeout = 300ms;
  options.read_timeout = 600ms;
  Running running(std::move(options));
  const auto start = Steady::now();
  const int kept = kept_alive_connection(running.port());
  const int silent = connect_to(running.port());
  const auto kept_closed = until_closed(kept, 3s) + (Steady::now() - start);
  const auto silent_closed = until_closed(silent, 3s) + (Steady::now() - start);
  ::close(kept);
  ::close(silent);
  // The receiver looks at idle connections every 100 ms.
  CHECK(kept_closed >= 250ms);
  CHECK(kept_closed < 1500ms);
  CHECK(silent_closed >= 550ms);
  CHECK(silent_closed < 1800ms);
}

TEST_CASE("at max_connections the connection idle the longest makes room for a new one") {
  ReceiverOptions options = with_store();
  options.max_connections = 2;
  Running running(std::move(options));
  const int oldest = kept_alive_connection(running.port());
  std::this_thread::sleep_for(20ms);
  const int newer = kept_alive_connection(running.port());
  const int third = kept_alive_connection(running.port());  // answered: the oldest made room
  CHECK(until_closed(oldest, 2s) < 1s);
  CHECK(still_open(newer));
  // Full again: the next one closes `newer`, and `third` keeps serving.
  const int fourth = kept_alive_connection(running.port());
  CHECK(until_closed(newer, 2s) < 1s);
  const std::string again = raw_delivery(fresh(sample("PasswordReset")));
  ::send(third, again.data(), again.size(), MSG_NOSIGNAL);
  CHECK(status_of(read_response(third)) == 200);
  for (const int fd : {oldest, newer, third, fourth}) ::close(fd);
}

TEST_CASE("at max_connections with none idle, a new connection waits until one closes") {
  ReceiverOptions options = with_store();
  options.max_connections = 1;
  Running running(std::move(options));
  const int first = connect_to(running.port());    // open, its request not sent yet
  const int waiting = connect_to(running.port());  // completed by the kernel, not yet accepted
  const std::string request = raw_delivery(fresh(sample("UserRegistered")));
  ::send(waiting, request.data(), request.size(), MSG_NOSIGNAL);
  std::string early;
  CHECK_FALSE(receive_more(waiting, early, Steady::now() + 300ms));
  ::close(first);
  const auto closed = Steady::now();
  CHECK(status_of(read_response(waiting)) == 200);
  CHECK(Steady::now() - closed < 1s);
  ::close(waiting);
}

TEST_CASE("stop closes idle kept-alive connections at once and serve returns") {
  auto running = std::make_unique<Running>(with_store());
  std::vector<int> idle;
  for (int i = 0; i < 12; ++i) idle.push_back(kept_alive_connection(running->port()));
  const auto stopping = Steady::now();
  running.reset();  // stop(), then wait for serve() to return
  CHECK(Steady::now() - stopping < 900ms);
  for (const int fd : idle) {
    CHECK(read_until_closed(fd, 1s).empty());
    ::close(fd);
  }
}

// ---- capture files left unfinished by an interrupted run ------------------------------------

namespace {

// Writes `text` as `dir/name`, last modified `age` ago.
fs::path leave(const fs::path& dir, const std::string& name, const std::string& text,
               std::chrono::seconds age = 60s) {
  const fs::path path = dir / name;
  std::ofstream(path, std::ios::binary) << text;
  fs::last_write_time(path, fs::file_time_type::clock::now() - age);
  return path;
}

// A whole capture of a fresh `event` delivery, and the name write() gives it.
std::pair<std::string, std::string> capture_of(std::string_view event) {
  const std::string body = fresh(sample(event));
  Request request{.method = "POST",
                  .target = "/webhooks/tyk",
                  .headers = {{"X-Signature-SHA256", sign(secret, body)}},
                  .body = body};
  const TimePoint received = now();
  return {write_json_capture(request, received),
          detail::capture_file_name(received, idempotency_key(body))};
}

}  // namespace

TEST_CASE("a capture file's name holds its arrival time at both ends of the range") {
  const std::string key(64, 'a');
  CHECK(detail::capture_file_name(TimePoint::min(), key) ==
        "00010101T000000.000000000Z-" + key + ".json");
  CHECK(detail::capture_file_name(TimePoint::max(), key) ==
        "22620411T234716.854775807Z-" + key + ".json");
  CHECK(detail::capture_file_name(TimePoint(std::chrono::nanoseconds(-1)), key) ==
        "19691231T235959.999999999Z-" + key + ".json");
  CHECK(detail::capture_file_name(*parse_rfc3339("2024-04-24T15:26:04.329Z"), key) ==
        "20240424T152604.329000000Z-" + key + ".json");
}

TEST_CASE("a leftover's age is told for any time its file system holds (fuzz: verifier)") {
  // Converting such a file time to nanoseconds since the epoch overflowed; the one far in the
  // future is not settled (left), the one far in the past is (recovered).
  TempDir dir;
  const auto [future, future_name] = capture_of("UserRegistered");
  const fs::path future_path = leave(dir.path(), "." + future_name + ".tmp", future);
  const auto [past, past_name] = capture_of("PasswordReset");
  const fs::path past_path = leave(dir.path(), "." + past_name + ".tmp", past);
  const auto set_time = [](const fs::path& path, time_t seconds) {
    const struct timespec times[2] = {{seconds, 0}, {seconds, 0}};
    REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
  };
  set_time(future_path, 13'569'465'600);  // 2400-01-01
  set_time(past_path, -2'147'483'648);    // 1901-12-13, the earliest ext4 holds
  struct stat status {};
  REQUIRE(::stat(future_path.c_str(), &status) == 0);
  CAPTURE(status.st_mtim.tv_sec);
  REQUIRE(status.st_mtim.tv_sec > 9'223'372'036);  // past 2262 on this file system

  ReceiverOptions options = with_store();
  options.verifier.secrets.emplace_back(secret);
  options.capture_dir = dir.path();
  const CaptureRecovery found = Receiver(std::move(options)).capture_recovery();
  CHECK(found.recovered == 1);
  CHECK(found.removed == 0);
  CHECK(fs::exists(future_path));
  CHECK(read_file(dir.path() / past_name) == past);
}

TEST_CASE(
    "a receiver names the whole captures that an interrupted run left, and removes the "
    "incomplete ones") {
  TempDir dir;
  const auto [whole, whole_name] = capture_of("UserRegistered");
  leave(dir.path(), "." + whole_name + ".tmp", whole);
  const auto [cut, cut_name] = capture_of("PasswordReset");
  leave(dir.path(), "." + cut_name + ".tmp", cut.substr(0, cut.size() / 2));
  // A whole capture under the name of another body: not what write() made of it.
  const auto [other, other_name] = capture_of("ApplicationRegistered");
  const auto [stranger, stranger_name] = capture_of("OrganisationRegistered");
  leave(dir.path(), "." + other_name + ".tmp", stranger);
  // Its capture is there already: the leftover goes, the capture stays as it is.
  const auto [twice, twice_name] = capture_of("AccessRequestCreated");
  leave(dir.path(), twice_name, twice);
  leave(dir.path(), "." + twice_name + ".tmp", twice + " ");
  // Left alone: one written a moment ago, one that a live writer holds, and other names.
  const auto [recent, recent_name] = capture_of("UserAccountActivated");
  leave(dir.path(), "." + recent_name + ".tmp", recent, 0s);
  const auto [held, held_name] = capture_of("UserAccountDeactivated");
  const fs::path held_path = leave(dir.path(), "." + held_name + ".tmp", held);
  const int lock = ::open(held_path.c_str(), O_RDONLY);
  REQUIRE(::flock(lock, LOCK_EX) == 0);
  leave(dir.path(), ".keep", "");
  leave(dir.path(), ".notes.json.tmp", "{}");

  ReceiverOptions options = with_store();
  options.verifier.secrets.emplace_back(secret);
  options.capture_dir = dir.path();
  const CaptureRecovery found = Receiver(std::move(options)).capture_recovery();
  ::close(lock);
  CHECK(found.recovered == 1);
  CHECK(found.removed == 3);
  CHECK(read_file(dir.path() / whole_name) == whole);
  CHECK(read_file(dir.path() / twice_name) == twice);
  std::vector<std::string> names;
  for (const auto& file : files_in(dir.path())) names.push_back(file.filename().string());
  const std::vector<std::string> expected = {std::string(".") + held_name + ".tmp",
                                             std::string(".") + recent_name + ".tmp",
                                             ".keep",
                                             ".notes.json.tmp",
                                             twice_name,
                                             whole_name};
  auto sorted = expected;
  std::sort(sorted.begin(), sorted.end());
  CHECK(names == sorted);

  // The one recovered reads back as the delivery it was.
  const auto captures = read_captures(read_file(dir.path() / whole_name), whole_name);
  REQUIRE(captures.size() == 1);
  REQUIRE(captures.front().request);
  CHECK(idempotency_key(captures.front().request->body) + ".json" ==
        whole_name.substr(whole_name.size() - 69));

  // Without a capture directory there is nothing to recover.
  ReceiverOptions without = with_store();
  without.verifier.secrets.emplace_back(secret);
  const CaptureRecovery none = Receiver(std::move(without)).capture_recovery();
  CHECK(none.recovered + none.removed == 0);
}

TEST_CASE("the event loop serves deliveries itself only when nothing on their way can wait") {
  TempDir dir;
  struct Case {
    std::string name;
    ReceiverOptions options;
    Dispatcher dispatcher;
    bool on_event_loop;
  };
  std::vector<Case> cases;
  cases.push_back({"memory store", with_store(), {}, true});
  cases.push_back({"no store", with_store(nullptr), {}, true});
  cases.push_back({"a store that may wait", with_store(std::make_shared<FlakyStore>()), {}, false});
  cases.push_back({"a capture directory", with_store(), {}, false});
  cases.back().options.capture_dir = dir.path() / "captures";
  cases.push_back({"a handler", with_store(), {}, false});
  cases.back().dispatcher.on_any([](const Verdict&) {});
  for (Case& test : cases) {
    CAPTURE(test.name);
    Running running(std::move(test.options), std::move(test.dispatcher));
    for (const std::string event : {"UserRegistered", "PasswordReset"}) {
      REQUIRE(status_of(send_request(running.port(), raw_delivery(fresh(sample(event))), false)) ==
              200);
    }
    // What is not a plain delivery arrived whole always goes to a worker.
    REQUIRE(status_of(exchange(running.port(),
                               "HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) == 200);
    const auto threads = running.threads(3);
    REQUIRE(threads.size() == 3);
    CHECK((threads[0] == running.serve_thread()) == test.on_event_loop);
    CHECK((threads[1] == running.serve_thread()) == test.on_event_loop);
    CHECK(threads[2] != running.serve_thread());
  }
}

TEST_CASE("a client that does not read its answers holds up no other client") {
  ReceiverOptions options = with_store();
  options.keep_alive_max_requests = 1'000'000;
  options.write_timeout = 30s;  // were the event loop to wait for it, the other client would too
  Running running(std::move(options));
  const std::string request = raw_delivery(fresh(sample("UserRegistered")));

  // The first client sends deliveries in batches that the receiver reads whole, so that the
  // event loop serves them itself, and reads nothing until told to.
  constexpr std::size_t batch_size = 8;
  std::string batch;
  for (std::size_t i = 0; i < batch_size; ++i) batch += request;
  REQUIRE(batch.size() < 8192);  // the receiver reads 8 KiB at a time
  const int reader_less = ::socket(AF_INET, SOCK_STREAM, 0);
  const int small = 4096;
  ::setsockopt(reader_less, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(running.port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(reader_less, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  std::atomic<bool> stop{false}, finished{false};
  std::atomic<std::size_t> sent{0};
  std::thread sender([&] {
    while (!stop) {
      std::size_t done = 0;
      while (done < batch.size()) {
        const ssize_t n =
            ::send(reader_less, batch.data() + done, batch.size() - done, MSG_NOSIGNAL);
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
      }
      if (done < batch.size()) break;
      sent += batch_size;
      std::this_thread::sleep_for(1ms);  // the receiver reads the batch on its own
    }
    finished = true;
  });
  // Until the receiver has stopped reading it: its answers fill every buffer on the way.
  std::size_t last = 0;
  bool stuck = false;
  for (int i = 0; i < 100 && !stuck; ++i) {
    std::this_thread::sleep_for(300ms);
    stuck = sent.load() == last && last > 0;
    last = sent.load();
  }
  REQUIRE(stuck);

  // Another client is answered at once all the same.
  const auto start = Steady::now();
  CHECK(status_of(send_request(running.port(), raw_delivery(fresh(sample("PasswordReset"))),
                               false)) == 200);
  CHECK(Steady::now() - start < 3s);

  // Once the first client reads, it gets every answer: the first ok, the rest duplicates.
  stop = true;
  std::string text;
  std::size_t answered = 0, duplicates = 0;
  const auto deadline = Steady::now() + 30s;
  while (!(finished && answered == sent.load()) && receive_more(reader_less, text, deadline)) {
    for (std::size_t end; (end = text.find("\r\n\r\n")) != std::string::npos;) {
      const std::string head = text.substr(0, end + 2);
      const std::size_t size = end + 4 + std::stoull(header_of(head, "Content-Length"));
      if (text.size() < size) break;
      ++answered;
      if (status_of(head) == 200 && header_of(head, "X-Tykhook-Verdict") == "duplicate") {
        ++duplicates;
      }
      text.erase(0, size);
    }
  }
  sender.join();
  CHECK(answered == sent.load());
  CHECK(duplicates + 1 == answered);
  CHECK(text.empty());
  ::shutdown(reader_less, SHUT_WR);
  CHECK(read_until_closed(reader_less, 5s).empty());
  ::close(reader_less);
}

TEST_CASE("handlers get their Message even when the options say not to keep it") {
  ReceiverOptions options = with_store();
  options.verifier.keep_message = false;
  std::mutex mutex;
  std::string email;
  Dispatcher handlers;
  handlers.on<Event::UserRegistered>([&](const UserMessage& user, const Verdict&) {
    const std::lock_guard lock(mutex);
    email = user.email;
  });
  Running running(std::move(options), std::move(handlers));
  const std::string response =
      send_request(running.port(), raw_delivery(fresh(sample("UserRegistered"))), false);
  CHECK(status_of(response) == 200);
  CHECK(header_of(response, "X-Tykhook-Verdict") == "ok");
  const std::lock_guard lock(mutex);
  CHECK(email == "developer@user.com");
}
