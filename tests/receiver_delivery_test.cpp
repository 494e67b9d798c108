// The receiver's answers to deliveries through real requests: DESIGN.md's table, the checks
// before the body, and the answers when the store, the capture directory or a handler fails.

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

#include "capture_writer.h"
#include "receiver_support.h"
#include "request_head.h"
#include "tykhook/capture.h"
#include "tykhook/receiver.h"
#include "tykhook/schema.h"
#include "tykhook/signature.h"
#include "tykhook/store.h"

using namespace tykhook;
using namespace tykhook::receiver_test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

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

TEST_CASE("a handler that throws is answered 200 at once, and tried again until it returns") {
  std::atomic<int> calls{0};
  Dispatcher dispatcher;
  dispatcher.on(Event::UserRegistered, [&](const Verdict&) {
    if (calls++ == 0) throw std::runtime_error("database is down");
  });
  TempDir captures;
  ReceiverOptions options = with_store();
  options.capture_dir = captures.path();
  options.delivery.retry = {.base = 10ms, .cap = 20ms};
  std::mutex mutex;
  std::vector<std::string> attempts;
  options.delivery.on_attempt = [&](const AttemptReport& report) {
    const std::lock_guard lock(mutex);
    attempts.push_back(std::string(to_string(report.result.outcome)) + " " +
                       std::string(to_string(report.record.state)) + " " + report.result.error);
  };
  Running running(std::move(options), std::move(dispatcher));
  const std::string body = fresh(sample("UserRegistered"));

  // The answer does not wait for the handler, nor depend on it.
  const auto answered = running.deliver(body);
  REQUIRE(answered);
  CHECK(answered->status == 200);
  CHECK(answered->get_header_value("X-Tykhook-Verdict") == "ok");
  CHECK(files_in(captures.path()).size() == 1);

  REQUIRE(wait_until("the handler to succeed on its second attempt", [&] { return calls == 2; }));
  REQUIRE(wait_until("both attempts recorded", [&] {
    const std::lock_guard lock(mutex);
    return attempts.size() == 2;
  }));
  CHECK(attempts[0] == "retry retrying handler failed: database is down");
  CHECK(attempts[1] == "done done ");
  const std::string metrics = running.receiver().metrics();
  CHECK(metric_line(metrics, "tykhook_attempts_total{outcome=\"retry\"}") ==
        "tykhook_attempts_total{outcome=\"retry\"} 1");
  CHECK(metric_line(metrics, "tykhook_attempts_total{outcome=\"done\"}") ==
        "tykhook_attempts_total{outcome=\"done\"} 1");
  CHECK(metric_line(metrics, "tykhook_queue_entries{state=\"done\"}") ==
        "tykhook_queue_entries{state=\"done\"} 1");

  // The same delivery sent again is a duplicate: it is not handed on twice.
  const auto again = running.deliver(body);
  REQUIRE(again);
  CHECK(again->get_header_value("X-Tykhook-Verdict") == "duplicate");
  CHECK(calls == 2);
}

TEST_CASE("handlers and a delivery target together are a programming error") {
  ReceiverOptions options = with_store();
  options.verifier.secrets.emplace_back(secret);
  options.delivery.target = std::shared_ptr<Target>(handler_target({}));
  Dispatcher handlers;
  handlers.on_any([](const Verdict&) {});
  CHECK_THROWS_AS(Receiver(std::move(options), std::move(handlers)), std::invalid_argument);
}

TEST_CASE("a delivery target with a store that holds no queue is refused with the fix") {
  ReceiverOptions options = with_store(std::make_shared<FlakyStore>());
  options.verifier.secrets.emplace_back(secret);
  Dispatcher handlers;
  handlers.on_any([](const Verdict&) {});
  CHECK_THROWS_WITH_AS(Receiver(std::move(options), std::move(handlers)),
                       doctest::Contains("holds no delivery queue"), Error);
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
  CHECK(wait_until("the handler to run from the queue", [&] {
    const std::lock_guard lock(mutex);
    return email == "developer@user.com";
  }));
}
