// One connection's requests: the limits on a request's head and time, several requests on one
// connection, 100 Continue, and the plain deliveries that the receiver reads itself.

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

namespace {

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
  for (const auto& c : cases) {
    // Named, not a structured binding: CAPTURE's lambda cannot capture one before C++20's
    // P1091 (clang 14 refuses it).
    const std::string& name = std::get<0>(c);
    CAPTURE(name);
    check_same_either_way(running, std::get<1>(c), std::get<2>(c));
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
