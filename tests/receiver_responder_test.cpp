// DESIGN.md's table of answers ("`tykhook listen`"), row by row, against the receiver's answer
// step alone: a request head, a body and a time go in, without a socket.

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "receiver_support.h"
#include "responder.h"
#include "tykhook/schema.h"
#include "tykhook/signature.h"
#include "tykhook/store.h"

using namespace tykhook;
using namespace tykhook::receiver_test;
using namespace std::chrono_literals;

namespace {

// The value of the header `name` in `answer`, or "(none)".
std::string header_in(const detail::Answer& answer, std::string_view name) {
  const auto& headers = answer.response.headers;
  const auto found = std::find_if(headers.begin(), headers.end(), [&](const Header& header) {
    return header_name_equals(header.name, name);
  });
  return found == headers.end() ? "(none)" : found->value;
}

// A delivery's head: `method` on /webhooks/tyk with the body's Content-Length, signed with
// `key` (no signature header when `signature` is "none", this value when another).
detail::Head delivery_head(std::string_view method, const std::string& body,
                           const std::string& key = secret, const std::string& signature = "") {
  detail::Head head{.method = std::string(method), .target = "/webhooks/tyk", .headers = {}};
  head.headers.push_back({"Content-Type", "application/json"});
  head.headers.push_back({"Content-Length", std::to_string(body.size())});
  if (signature != "none") {
    head.headers.push_back({"X-Signature-SHA256", signature.empty() ? sign(key, body) : signature});
  }
  return head;
}

ReceiverOptions table_options(bool reject_invalid) {
  ReceiverOptions options = with_store();
  options.verifier.secrets.emplace_back(secret);
  options.verifier.max_body = 4096;
  options.reject_invalid = reject_invalid;
  return options;
}

}  // namespace

TEST_CASE("HEAD, GET /healthz, other GETs and other methods are answered as DESIGN's table says") {
  detail::ReceiverMetrics metrics;
  detail::Responder responder(table_options(false), metrics);
  const struct {
    std::string_view name;
    std::string method;
    std::string target;
    int status;
    std::string_view allow;
  } rows[] = {
      {"the portal's Test Connection", "HEAD", "/webhooks/tyk", 200, "(none)"},
      {"HEAD on the root", "HEAD", "/", 200, "(none)"},
      {"the health check", "GET", "/healthz", 200, "(none)"},
      {"the health check with a query", "GET", "/healthz?x=1", 200, "(none)"},
      {"the metrics", "GET", "/metrics", 200, "(none)"},
      {"another GET path", "GET", "/webhooks/tyk", 404, "(none)"},
      {"a DELETE", "DELETE", "/webhooks/tyk", 405, "GET, HEAD, POST, PUT, PATCH"},
      {"an OPTIONS", "OPTIONS", "/", 405, "GET, HEAD, POST, PUT, PATCH"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    const detail::Head head{.method = row.method, .target = row.target, .headers = {}};
    const detail::Answer answer = responder.answer(head, "", now());
    CHECK(answer.response.status == row.status);
    CHECK(header_in(answer, "Allow") == row.allow);
    CHECK(header_in(answer, "X-Tykhook-Verdict") == "(none)");
    CHECK_FALSE(answer.outcome.has_value());
    CHECK(answer.record.verdict.empty());
    CHECK_FALSE(answer.close);
    if (row.method == "HEAD") CHECK(answer.response.body.empty());
  }
}

TEST_CASE("deliveries are answered by their verdict, as DESIGN's table says, without a socket") {
  const std::string ok_body = fresh(sample("UserRegistered"));
  const std::string unknown = fresh(R"({"Event":"UserDeleted","Message":{"ID":3},"Timestamp":""})");
  const struct {
    std::string_view name;
    std::string method;
    std::string body;
    std::string key;
    std::string signature;
    int status;
    int status_rejecting;  // with reject_invalid
    std::string_view verdict;
    std::string_view event;
  } rows[] = {
      {"a fresh signed sample", "POST", ok_body, secret, "", 200, 200, "ok", "UserRegistered"},
      {"the same delivery again", "POST", ok_body, secret, "", 200, 200, "duplicate",
       "UserRegistered"},
      {"a PUT delivery", "PUT", fresh(sample("PasswordReset")), secret, "", 200, 200, "ok",
       "PasswordReset"},
      {"a PATCH delivery", "PATCH", fresh(sample("CredentialRegistered")), secret, "", 200, 200,
       "ok", "CredentialRegistered"},
      {"no signature header", "POST", fresh(sample("UserAccountActivated")), secret, "none", 401,
       401, "missing_signature", ""},
      {"a signature that is not hex", "POST", fresh(sample("UserAccountActivated")), secret, "xyz",
       401, 401, "malformed_signature", ""},
      {"a signature under another secret", "PUT", fresh(sample("UserAccountActivated")), "other",
       "", 401, 401, "signature_mismatch", ""},
      {"a Timestamp of 2024", "POST", sample("AccessRequestCreated"), secret, "", 401, 401, "stale",
       "AccessRequestCreated"},
      {"a body over max_body", "POST", std::string(4097, ' '), secret, "", 413, 413, "too_large",
       ""},
      {"an authentic body that is not JSON", "POST", "{not json", secret, "", 202, 400,
       "malformed_json", ""},
      {"an authentic body without Message", "PATCH", R"({"Event":"UserRegistered"})", secret, "",
       202, 400, "invalid_envelope", ""},
      {"an authentic unknown event", "POST", unknown, secret, "", 202, 400, "unknown_event",
       "UserDeleted"},
      {"an authentic Message of the wrong shape", "POST", schema_broken, secret, "", 202, 400,
       "schema_violation", "ApplicationRegistered"},
  };
  for (const bool reject_invalid : {false, true}) {
    CAPTURE(reject_invalid);
    detail::ReceiverMetrics metrics;
    detail::Responder responder(table_options(reject_invalid), metrics);
    for (const auto& row : rows) {
      CAPTURE(row.name);
      const detail::Answer answer = responder.answer(
          delivery_head(row.method, row.body, row.key, row.signature), row.body, now());
      CHECK(answer.response.status == (reject_invalid ? row.status_rejecting : row.status));
      CHECK(header_in(answer, "X-Tykhook-Verdict") == row.verdict);
      CHECK(answer.record.verdict == row.verdict);
      REQUIRE(answer.outcome.has_value());
      CHECK(detail::to_string(*answer.outcome) == row.verdict);
      CHECK(answer.record.event.value_or("") == row.event);
      CHECK(answer.response.content_type == "application/json");
      const auto body = nlohmann::json::parse(answer.response.body);
      CHECK(body["verdict"] == row.verdict);
      CHECK(body["event"] == (row.event.empty() ? nlohmann::json() : nlohmann::json(row.event)));
      CHECK(body.contains("errors") == (row.verdict != "ok"));
      // The answer is read by an HTTP client: it gives no advice about command-line options.
      CHECK(answer.response.body.find("--signature") == std::string::npos);
    }
  }
}

TEST_CASE("the checks before the body refuse a delivery by its head alone, and close after it") {
  ReceiverOptions options = table_options(false);
  options.required_header = Header{"X-Portal-Token", "t0ken"};
  detail::ReceiverMetrics metrics;
  detail::Responder responder(std::move(options), metrics);
  const std::string body = fresh(sample("UserRegistered"));
  const auto with = [&](std::vector<Header> extra) {
    detail::Head head = delivery_head("POST", body);
    head.headers.erase(std::remove_if(head.headers.begin(), head.headers.end(),
                                      [&](const Header& header) {
                                        return std::any_of(
                                            extra.begin(), extra.end(), [&](const Header& e) {
                                              return header_name_equals(e.name, header.name);
                                            });
                                      }),
                       head.headers.end());
    for (auto& header : extra) {
      if (!header.value.empty()) head.headers.push_back(std::move(header));
    }
    return head;
  };
  const Header token{"X-Portal-Token", "t0ken"};
  const struct {
    std::string_view name;
    detail::Head head;
    int status;
    std::string_view verdict;
    std::string_view error;
  } rows[] = {
      {"without the required header", with({}), 401, "rejected", "required header missing"},
      {"with a wrong required header", with({{"X-Portal-Token", "nope"}}), 401, "rejected",
       "does not have the required value"},
      {"Content-Length over the limit", with({token, {"Content-Length", "5000"}}), 413, "too_large",
       "over the limit of 4096 bytes"},
      {"Content-Length not a number", with({token, {"Content-Length", "12a"}}), 400,
       "malformed_request", "is not a byte count"},
      {"Content-Length and chunked", with({token, {"Transfer-Encoding", "chunked"}}), 400,
       "malformed_request", "request smuggling"},
      {"a compressed body", with({token, {"Content-Encoding", "gzip"}}), 400, "malformed_request",
       "is not accepted"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    const detail::HeadCheck check = responder.check_head(row.head);
    REQUIRE(check.refusal.has_value());
    CHECK(check.refusal->response.status == row.status);
    CHECK(check.refusal->close);
    CHECK(header_in(*check.refusal, "X-Tykhook-Verdict") == row.verdict);
    CHECK(check.refusal->response.body.find(row.error) != std::string::npos);
    const detail::Answer answer = responder.answer(row.head, body, now());
    CHECK(answer.response.status == row.status);
    CHECK(answer.record.verdict == row.verdict);
  }
  const detail::HeadCheck accepted = responder.check_head(with({token}));
  CHECK_FALSE(accepted.refusal.has_value());
  CHECK(accepted.framing.content_length == body.size());
  CHECK_FALSE(accepted.framing.chunked);
  const detail::Answer answer = responder.answer(with({token}), body, now());
  CHECK(answer.response.status == 200);
  CHECK(answer.record.verdict == "ok");
}
