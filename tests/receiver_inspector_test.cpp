// The inspector (`listen --ui`, issue 19): off unless enabled; its token, compared in constant
// time, by header, cookie or a page load; the origin of every change; the headers that keep
// personal data out of caches and frames; and the JSON endpoints the page reads.

#include <doctest/doctest.h>
#include <httplib.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "receiver_support.h"
#include "tykhook/capture.h"
#include "tykhook/receiver.h"
#include "tykhook/schema.h"
#include "tykhook/verifier.h"
#include "tykhook/worker.h"

using namespace tykhook;
using namespace tykhook::receiver_test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string token = "inspector-test-token-0123456789";

ReceiverOptions with_inspector(std::size_t keep = 1000) {
  ReceiverOptions options;
  options.inspector = {.enabled = true, .token = token, .keep = keep};
  options.verifier.schemas = SchemaRegistry::embedded();
  options.verifier.store = open_store("memory:");
  return options;
}

httplib::Headers bearer(const std::string& value = token) {
  return {{"Authorization", "Bearer " + value}};
}

// GET `path` with `headers`; the response must be there.
httplib::Result get(const Running& running, const std::string& path,
                    const httplib::Headers& headers = bearer()) {
  auto result = running.client().Get(path, headers);
  REQUIRE(result);
  return result;
}

json get_json(const Running& running, const std::string& path) {
  const auto result = get(running, path);
  CAPTURE(result->body);
  REQUIRE(result->status == 200);
  CHECK(result->get_header_value("Content-Type") == "application/json");
  return json::parse(result->body);
}

httplib::Result post(const Running& running, const std::string& path,
                     const httplib::Headers& headers) {
  auto result = running.client().Post(path, headers, "", "text/plain");
  REQUIRE(result);
  return result;
}

// The inspector keeps a delivery once its answer is written, as the log line: the client may
// read the answer first.
void wait_for_kept(const Running& running, int count) {
  REQUIRE(wait_until("the inspector to keep " + std::to_string(count) + " deliveries",
                     [&] { return get_json(running, "/ui/api/deliveries")["latest"] == count; }));
}

void check_guard_headers(const httplib::Response& response) {
  const std::string csp = response.get_header_value("Content-Security-Policy");
  CHECK(csp.find("default-src 'none'") != std::string::npos);
  CHECK(csp.find("script-src 'self'") != std::string::npos);
  CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
  CHECK(response.get_header_value("Cache-Control") == "no-store");
  CHECK(response.get_header_value("X-Content-Type-Options") == "nosniff");
  CHECK(response.get_header_value("Referrer-Policy") == "no-referrer");
  CHECK(response.get_header_value("X-Frame-Options") == "DENY");
}

// A target that fails every attempt until told otherwise.
class SwitchTarget : public Target {
 public:
  std::atomic<bool> up{false};
  AttemptResult attempt(const QueueEntry&) override {
    if (up) return {};
    return {.outcome = AttemptOutcome::retry, .error = "the application is down"};
  }
  std::string describe() const override { return "a test's application"; }
};

}  // namespace

TEST_CASE("without the inspector, /ui/ is an ordinary path: a POST there is a delivery") {
  Running running;
  const auto page = running.client().Get("/ui/", bearer());
  REQUIRE(page);
  CHECK(page->status == 404);
  auto delivered = running.client().Post("/ui/api/deliveries/1/retry", bearer(),
                                         fresh(sample("UserRegistered")), "application/json");
  REQUIRE(delivered);
  CHECK(delivered->get_header_value("X-Tykhook-Verdict") == "missing_signature");
}

TEST_CASE("a token that is short or not URL-safe is refused when the receiver is made") {
  ReceiverOptions options = with_inspector();
  options.verifier.secrets.emplace_back(secret);
  options.inspector.token = "too-short";
  CHECK_THROWS_AS(Receiver{options}, std::invalid_argument);
  options.inspector.token = "has a space and is long enough";
  CHECK_THROWS_AS(Receiver{options}, std::invalid_argument);
  options.inspector.token = "";
  CHECK_THROWS_AS(Receiver{options}, std::invalid_argument);
}

TEST_CASE("nothing is shown without the token; with it, by header, cookie or page load") {
  Running running(with_inspector());
  REQUIRE(running.deliver(fresh(sample("UserRegistered")))->status == 200);
  wait_for_kept(running, 1);

  SUBCASE("the API: 401 without the token, or with a wrong one; the headers on every answer") {
    for (const auto& headers :
         {httplib::Headers{}, bearer("inspector-test-token-012345678X"), bearer(token + "x"),
          httplib::Headers{{"Authorization", "Basic " + token}},
          httplib::Headers{{"Cookie", "tykhook_ui=wrong-token-of-some-length"}}}) {
      const auto result = get(running, "/ui/api/deliveries", headers);
      CHECK(result->status == 401);
      CHECK(result->body.find("UserRegistered") == std::string::npos);
      CHECK(result->body.find("Bearer") != std::string::npos);  // says how to give it
      check_guard_headers(*result);
    }
    const auto ok = get(running, "/ui/api/deliveries");
    CHECK(ok->status == 200);
    check_guard_headers(*ok);
    const auto lower = get(running, "/ui/api/deliveries", {{"Authorization", "bearer " + token}});
    CHECK(lower->status == 200);
  }
  SUBCASE("the page: signed out without the token, no data and no script") {
    const auto page = get(running, "/ui/", {});
    CHECK(page->status == 401);
    CHECK(page->body.find("Not signed in") != std::string::npos);
    CHECK(page->body.find("<script") == std::string::npos);
    check_guard_headers(*page);
    const auto wrong = get(running, "/ui/?token=inspector-test-token-wrong", {});
    CHECK(wrong->status == 401);
    CHECK_FALSE(wrong->has_header("Set-Cookie"));
  }
  SUBCASE("?token= on a page load: the token leaves the address for an HttpOnly cookie") {
    const auto signed_in = get(running, "/ui/?token=" + token, {});
    CHECK(signed_in->status == 303);
    CHECK(signed_in->get_header_value("Location") == "/ui/");
    CHECK(signed_in->get_header_value("Set-Cookie") ==
          "tykhook_ui=" + token + "; Path=/ui/; HttpOnly; SameSite=Strict");
    const httplib::Headers cookie = {{"Cookie", "other=1; tykhook_ui=" + token}};
    const auto page = get(running, "/ui/", cookie);
    CHECK(page->status == 200);
    CHECK(page->get_header_value("Content-Type") == "text/html; charset=utf-8");
    CHECK(page->body.find("/ui/app.js") != std::string::npos);
    check_guard_headers(*page);
    const auto list = get(running, "/ui/api/deliveries", cookie);
    CHECK(list->status == 200);
    CHECK(list->body.find("UserRegistered") != std::string::npos);
  }
  SUBCASE("the page's assets hold no data and are served to anyone; nothing else is") {
    const auto script = get(running, "/ui/app.js", {});
    CHECK(script->status == 200);
    CHECK(script->get_header_value("Content-Type") == "text/javascript; charset=utf-8");
    const auto style = get(running, "/ui/app.css", {});
    CHECK(style->status == 200);
    CHECK(get(running, "/ui/index.html", {})->status == 404);  // only through /ui/, signed in
    CHECK(get(running, "/ui/nothing.js", {})->status == 404);
    const auto bare = get(running, "/ui", {});
    CHECK(bare->status == 308);
    CHECK(bare->get_header_value("Location") == "/ui/");
  }
}

TEST_CASE("a change needs the token and this receiver's Origin; a script without one may") {
  auto target = std::make_shared<SwitchTarget>();
  ReceiverOptions options = with_inspector();
  options.delivery.target = target;
  options.delivery.retry.max_attempts = 1;
  Running running(std::move(options));
  REQUIRE(running.deliver(fresh(sample("UserRegistered")))->status == 200);
  wait_for_kept(running, 1);
  REQUIRE(wait_until("the delivery dead", [&] {
    return get_json(running, "/ui/api/deliveries/1")["queue"]["state"] == "dead";
  }));
  const std::string own_origin = "http://127.0.0.1:" + std::to_string(running.port());
  const httplib::Headers cookie = {{"Cookie", "tykhook_ui=" + token}};

  // Another site's page (another port of the same host is the same site: the cookie comes too).
  for (const std::string& origin :
       {std::string("http://127.0.0.1:1"), std::string("http://evil.example"), std::string("null"),
        "https://127.0.0.1:" + std::to_string(running.port()) + ".evil.example"}) {
    CAPTURE(origin);
    httplib::Headers headers = cookie;
    headers.emplace("Origin", origin);
    const auto refused = post(running, "/ui/api/deliveries/1/retry", headers);
    CHECK(refused->status == 403);
    check_guard_headers(*refused);
  }
  // The cookie alone, without an Origin: not the page's own request.
  CHECK(post(running, "/ui/api/deliveries/1/retry", cookie)->status == 403);
  CHECK(post(running, "/ui/api/deliveries/1/retry", {{"Origin", own_origin}})->status == 401);
  CHECK(get_json(running, "/ui/api/deliveries/1")["queue"]["state"] == "dead");  // unchanged

  target->up = true;
  httplib::Headers from_page = cookie;
  from_page.emplace("Origin", own_origin);
  const auto retried = post(running, "/ui/api/deliveries/1/retry", from_page);
  CAPTURE(retried->body);
  CHECK(retried->status == 200);
  CHECK(json::parse(retried->body)["state"] == "pending");
  REQUIRE(wait_until("the delivery done", [&] {
    return get_json(running, "/ui/api/deliveries/1")["queue"]["state"] == "done";
  }));
  // A script: the token, no Origin. Sent again by its key.
  const std::string key = get_json(running, "/ui/api/deliveries/1")["key"];
  const auto scripted = post(running, "/ui/api/deliveries/" + key + "/retry", bearer());
  CHECK(scripted->status == 200);
  // The store has the outcome a moment before the history has the attempt.
  REQUIRE(wait_until("the delivery done again", [&] {
    return get_json(running, "/ui/api/deliveries/1")["queue"]["history"].size() == 3;
  }));
  // Every attempt is in the history: the first (failed, dead) and the two after the retries.
  const json history = get_json(running, "/ui/api/deliveries/1")["queue"]["history"];
  CAPTURE(history.dump());
  REQUIRE(history.size() == 3);
  CHECK(history[0]["outcome"] == "dead");
  CHECK(history[0]["error"].get<std::string>().starts_with("the application is down"));
  CHECK(history[2]["outcome"] == "done");
  CHECK(history[2]["error"].is_null());

  // What cannot be sent again says why.
  REQUIRE(running.deliver(fresh(sample("UserRegistered")), "a-wrong-secret")->status == 401);
  wait_for_kept(running, 2);
  const auto not_queued = post(running, "/ui/api/deliveries/2/retry", bearer());
  CHECK(not_queued->status == 409);
  CHECK(not_queued->body.find("signature_mismatch") != std::string::npos);
  CHECK(post(running, "/ui/api/deliveries/99/retry", bearer())->status == 404);
  CHECK(get(running, "/ui/api/deliveries/1/retry")->status == 405);
}

TEST_CASE("the list: newest first, filtered, after an id, within its limits") {
  Running running(with_inspector(/*keep=*/4));
  const std::string registered = fresh(sample("UserRegistered"));
  REQUIRE(running.deliver(registered)->status == 200);
  wait_for_kept(running, 1);
  REQUIRE(running.deliver(schema_broken)->status == 202);
  wait_for_kept(running, 2);
  REQUIRE(running.deliver(fresh(sample("ApplicationRegistered")), "a-wrong-secret")->status == 401);
  wait_for_kept(running, 3);
  REQUIRE(running.deliver(registered)->status == 200);  // a duplicate
  wait_for_kept(running, 4);

  json list = get_json(running, "/ui/api/deliveries");
  REQUIRE(list["deliveries"].size() == 4);
  CHECK(list["latest"] == 4);
  CHECK(list["kept"] == 4);
  CHECK(list["dropped"] == 0);
  CHECK(list["queue"] == false);
  const json& newest = list["deliveries"][0];
  CHECK(newest["id"] == 4);
  CHECK(newest["verdict"] == "duplicate");
  CHECK(newest["event"] == "UserRegistered");
  CHECK(newest["method"] == "POST");
  CHECK(newest["path"] == "/webhooks/tyk");
  CHECK(newest["client"].get<std::string>().starts_with("127.0.0.1:"));
  CHECK(newest["status"] == 200);
  CHECK(newest["queue"].is_null());
  CHECK(std::abs(newest["skew_seconds"].get<double>()) < 60);
  CHECK(list["deliveries"][1]["verdict"] == "signature_mismatch");
  CHECK(list["deliveries"][1]["secret"].is_null());
  CHECK(list["deliveries"][2]["verdict"] == "schema_violation");
  CHECK(list["deliveries"][3]["id"] == 1);

  json only = get_json(running, "/ui/api/deliveries?verdict=schema_violation");
  REQUIRE(only["deliveries"].size() == 1);
  CHECK(only["deliveries"][0]["id"] == 2);
  CHECK(get_json(running, "/ui/api/deliveries?event=UserRegistered")["deliveries"].size() == 2);
  json after = get_json(running, "/ui/api/deliveries?after=2&limit=1");
  REQUIRE(after["deliveries"].size() == 1);
  CHECK(after["deliveries"][0]["id"] == 4);
  CHECK(get_json(running, "/ui/api/deliveries?after=4")["deliveries"].empty());
  for (const std::string bad : {"limit=0", "limit=1001", "limit=x", "after=-1"}) {
    CAPTURE(bad);
    const auto refused = get(running, "/ui/api/deliveries?" + bad);
    CHECK(refused->status == 400);
    CHECK(refused->body.find(bad.substr(0, bad.find('='))) != std::string::npos);
  }

  // Past the limit, the oldest go first.
  REQUIRE(running.deliver(fresh(sample("ApplicationRegistered")))->status == 200);
  wait_for_kept(running, 5);
  list = get_json(running, "/ui/api/deliveries");
  CHECK(list["kept"] == 4);
  CHECK(list["dropped"] == 1);
  CHECK(get(running, "/ui/api/deliveries/1")->status == 404);
  CHECK(get(running, "/ui/api/deliveries/5")->status == 200);
  CHECK(get(running, "/ui/api/nothing")->status == 404);
  CHECK(get(running, "/ui/api/deliveries/5/nothing")->status == 404);
}

TEST_CASE("one delivery: headers, body, errors with their places, hints, and its capture") {
  ReceiverOptions options = with_inspector();
  options.required_header = Header{"X-Portal-Token", "portal-token-not-to-show"};
  Running running(std::move(options));
  const httplib::Headers portal = {{"X-Portal-Token", "portal-token-not-to-show"}};
  REQUIRE(running.deliver(schema_broken, secret, portal)->status == 202);
  wait_for_kept(running, 1);
  // Signed without the final newline that a proxy added: a likely cause that verify names.
  const std::string body = fresh(sample("UserRegistered"));
  httplib::Headers newline = portal;
  newline.emplace("X-Signature-SHA256", sign(secret, body));
  auto mismatch = running.client().Post("/webhooks/tyk", newline, body + "\n", "application/json");
  REQUIRE(mismatch);
  REQUIRE(mismatch->status == 401);
  wait_for_kept(running, 2);
  REQUIRE(running.deliver(body)->status == 401);  // no required header: rejected
  wait_for_kept(running, 3);

  const json broken = get_json(running, "/ui/api/deliveries/1");
  CHECK(broken["verdict"] == "schema_violation");
  CHECK(broken["body"] == schema_broken);
  CHECK(broken["body_bytes"] == schema_broken.size());
  REQUIRE_FALSE(broken["errors"].empty());
  REQUIRE(broken["marks"].size() == broken["errors"].size());
  CHECK(broken["marks"][0]["pointer"].get<std::string>().starts_with("/Message"));
  CHECK(broken["errors"][0] == broken["marks"][0]["pointer"].get<std::string>() + ": " +
                                   broken["marks"][0]["message"].get<std::string>());
  CHECK(broken["hints"].empty());
  bool redacted = false;
  for (const auto& header : broken["headers"]) {
    if (header[0] == "X-Portal-Token") redacted = header[1] == "[redacted]";
  }
  CHECK(redacted);
  const auto raw = get(running, "/ui/api/deliveries/1");
  CHECK(raw->body.find("portal-token-not-to-show") == std::string::npos);

  const json explained = get_json(running, "/ui/api/deliveries/2");
  CHECK(explained["verdict"] == "signature_mismatch");
  REQUIRE(explained["hints"].size() >= 1);
  CHECK(explained["hints"][0].get<std::string>().find("final newline") != std::string::npos);
  CHECK(explained["hints"].dump().find(secret) == std::string::npos);

  // Refused before its body: the head is there, the errors say why.
  const json rejected = get_json(running, "/ui/api/deliveries/3");
  CHECK(rejected["verdict"] == "rejected");
  CHECK(rejected["status"] == 401);
  CHECK(rejected["body"] == "");
  REQUIRE(rejected["errors"].size() == 1);
  CHECK(rejected["errors"][0].get<std::string>().find("X-Portal-Token") != std::string::npos);
  CHECK(get(running, "/ui/api/deliveries/3/capture")->status == 409);

  // The capture verifies to the same verdict, and names itself for the download.
  const auto capture = get(running, "/ui/api/deliveries/1/capture");
  CHECK(capture->status == 200);
  CHECK(capture->get_header_value("Content-Disposition") ==
        "attachment; filename=\"tykhook-delivery-1.json\"");
  const auto read = read_captures(capture->body, "download");
  REQUIRE(read.size() == 1);
  REQUIRE(read[0].request);
  VerifierOptions verifier_options;
  verifier_options.secrets.emplace_back(secret);
  verifier_options.schemas = SchemaRegistry::embedded();
  CHECK(Verifier(verifier_options).verify(*read[0].request, now()).kind ==
        VerdictKind::schema_violation);
}

TEST_CASE("activity: deliveries per minute by verdict, and the clock skew, over an hour") {
  Running running(with_inspector());
  REQUIRE(running.deliver(fresh(sample("UserRegistered")))->status == 200);
  wait_for_kept(running, 1);
  REQUIRE(running.deliver(fresh(sample("UserRegistered")), "a-wrong-secret")->status == 401);
  wait_for_kept(running, 2);
  const json activity = get_json(running, "/ui/api/activity");
  const json& minutes = activity["minutes"];
  REQUIRE(minutes.size() == 60);
  const json& last = minutes[59];
  CAPTURE(last.dump());
  // The deliveries fall in the last minute, or the one before when the minute just turned.
  const json& counted = last["verdicts"].empty() ? minutes[58] : last;
  CHECK(counted["verdicts"]["ok"] == 1);
  CHECK(counted["verdicts"]["signature_mismatch"] == 1);
  CHECK(counted["skew_seconds"]["min"].get<double>() <= counted["skew_seconds"]["max"]);
  CHECK(minutes[0]["verdicts"].empty());
  CHECK(minutes[0]["skew_seconds"].is_null());
}
