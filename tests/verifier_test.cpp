#include "tykhook/verifier.h"

#include <doctest/doctest.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <latch>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tykhook/schema.h"
#include "tykhook/store.h"

using namespace tykhook;
using namespace std::chrono_literals;

namespace {

const std::string secret = "verifier-test-secret";
const std::string body =
    R"({"Event":"ApplicationRegistered","Message":{"ID":1,"Name":"New App","UserID":1,)"
    R"("CreatedAt":"2024-04-18T13:29:23.738726+02:00"},"Timestamp":"2024-04-18T13:29:23.744826+02:00"})";
const TimePoint sent = *parse_rfc3339("2024-04-18T13:29:23.744826+02:00");

Request signed_request(const std::string& bytes, const std::string& key = secret) {
  return Request{.headers = {{"X-Signature-SHA256", sign(key, bytes)}}, .body = bytes};
}

// A store that remembers keys in a set, or fails like a store whose server went away.
class SetStore : public Store {
 public:
  bool failing = false;
  bool claim(std::string_view key, std::chrono::milliseconds) override {
    if (failing) throw Error("store \"test:\": server gone");
    return keys_.emplace(key).second;
  }
  void release(std::string_view key) override { keys_.erase(std::string(key)); }
  std::optional<std::size_t> size() const override { return keys_.size(); }
  bool durable() const override { return false; }

 private:
  std::set<std::string> keys_;
};

Verifier make_verifier(VerifierOptions options = {}) {
  options.secrets.emplace_back(secret);
  return Verifier(std::move(options));
}

// A valid body of every event (samples/bodies/, and RegisterInvite's empty Message) and, for
// each, one whose Message breaks its schema: numbers as strings and CreatedAt no date-time.
std::vector<std::string> bodies_of_every_event() {
  const std::filesystem::path dir = std::filesystem::path(TYKHOOK_SOURCE_DIR) / "samples/bodies";
  std::vector<std::string> bodies;
  for (const Event event : all_events()) {
    std::string text =
        R"({"Event":"RegisterInvite","Message":{},"Timestamp":"2024-04-18T13:29:23Z"})";
    if (event != Event::RegisterInvite) {
      std::ifstream in(dir / (std::string(to_string(event)) + ".json"), std::ios::binary);
      std::ostringstream read;
      read << in.rdbuf();
      text = read.str();
    }
    REQUIRE(!text.empty());
    bodies.push_back(text);
    nlohmann::ordered_json broken = nlohmann::ordered_json::parse(text);
    for (auto& [key, value] : broken["Message"].items()) {
      if (value.is_number()) value = "x";
      if (key == "CreatedAt") value = "yesterday";
    }
    broken["Message"]["Extra"] = nullptr;
    bodies.push_back(broken.dump());
  }
  return bodies;
}

}  // namespace

// First in this file, so that it is this process's first use of the embedded schemas: each is
// compiled lazily, by whichever thread needs it first (doctest runs a file's cases in order).
TEST_CASE("concurrent first uses of the embedded schemas give the verdicts of eager ones") {
  const std::vector<std::string> bodies = bodies_of_every_event();
  // The reference: a registry that compiled every schema up front, from the same files.
  const auto eager = make_verifier({.schemas = SchemaRegistry::from_directory(
                                        std::filesystem::path(TYKHOOK_SOURCE_DIR) / "schemas")});
  std::vector<Verdict> want;
  for (const std::string& bytes : bodies) want.push_back(eager.verify(signed_request(bytes), sent));

  const auto lazy = make_verifier({.schemas = SchemaRegistry::embedded()});
  constexpr std::size_t threads = 8;
  constexpr std::size_t rounds = 3;
  std::vector<std::vector<Verdict>> got(threads, std::vector<Verdict>(bodies.size()));
  std::latch start(threads);
  std::vector<std::thread> workers;
  for (std::size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      start.arrive_and_wait();
      // Each thread starts at another event, so that first uses of several schemas overlap.
      for (std::size_t round = 0; round < rounds; ++round) {
        for (std::size_t i = 0; i < bodies.size(); ++i) {
          const std::size_t at = (i + t * 3) % bodies.size();
          got[t][at] = lazy.verify(signed_request(bodies[at]), sent);
        }
      }
    });
  }
  for (std::thread& worker : workers) worker.join();

  std::size_t ok = 0;
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    CAPTURE(bodies[i]);
    ok += want[i].ok() ? 1 : 0;
    for (std::size_t t = 0; t < threads; ++t) {
      CHECK(to_string(got[t][i].kind) == to_string(want[i].kind));
      CHECK(got[t][i].event_name == want[i].event_name);
      CHECK(got[t][i].errors == want[i].errors);
    }
  }
  // The valid half passes, the broken half fails but RegisterInvite's (any object passes).
  CHECK(ok == all_events().size() + 1);
}

TEST_CASE("a correctly signed sample passes every check") {
  const auto verdict =
      make_verifier({.schemas = SchemaRegistry::embedded()}).verify(signed_request(body), sent);
  CHECK(to_string(verdict.kind) == "ok");
  CHECK(verdict.ok());
  CHECK(verdict.errors.empty());
  CHECK(verdict.event == Event::ApplicationRegistered);
  CHECK(verdict.event_name == "ApplicationRegistered");
  CHECK(verdict.secret_index == 0u);
  CHECK(verdict.idempotency_key == idempotency_key(body));
  CHECK(verdict.idempotency_key.size() == 64);
  REQUIRE(verdict.envelope.has_value());
  CHECK(verdict.envelope->message.at("Name") == "New App");
}

TEST_CASE("the idempotency key is the lower-case hex SHA-256 of the body") {
  CHECK(idempotency_key("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(idempotency_key("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("each check names its verdict, in DESIGN.md's order") {
  const std::string unknown = R"({"Event":"Nope","Message":{},"Timestamp":"2024-04-18T13:29:23Z"})";
  const std::string broken_schema =
      R"({"Event":"ApplicationRegistered","Message":{"ID":"one","Name":"New App","UserID":1,)"
      R"("CreatedAt":"2024-04-18T13:29:23.738726+02:00"},"Timestamp":"2024-04-18T13:29:23Z"})";
  auto too_big = signed_request(std::string(1024 * 1024 + 1, ' '));
  auto twice = signed_request(body);
  twice.headers.push_back(twice.headers.front());
  const struct {
    std::string_view name;
    Request request;
    std::string_view want;
    std::string_view message;
  } cases[] = {
      {"over the size limit", too_big, "too_large", "over the limit of 1048576 bytes"},
      {"no signature header", Request{.body = body}, "missing_signature", "header missing"},
      {"two signature headers", twice, "malformed_signature", "appears 2 times"},
      {"a short signature", Request{.headers = {{"X-Signature-SHA256", "abc"}}, .body = body},
       "malformed_signature", "X-Signature-SHA256"},
      {"another secret", signed_request(body, "other"), "signature_mismatch",
       "does not match the body"},
      {"not JSON", signed_request("{nope"), "malformed_json", "body byte"},
      {"no Message", signed_request(R"({"Event":"UserRegistered","Timestamp":"x"})"),
       "invalid_envelope", "/Message: missing"},
      {"an unknown event", signed_request(unknown), "unknown_event",
       "\"Nope\" is not a portal event"},
      {"a Message of the wrong shape", signed_request(broken_schema), "schema_violation",
       "/Message/ID"},
  };
  const auto verifier = make_verifier({.schemas = SchemaRegistry::embedded()});
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto verdict = verifier.verify(c.request, sent);
    CHECK(to_string(verdict.kind) == c.want);
    REQUIRE_FALSE(verdict.errors.empty());
    CAPTURE(verdict.errors.front());
    CHECK(verdict.errors.front().find(c.message) != std::string::npos);
  }
}

TEST_CASE("the event is null before the envelope is read, raw for an unknown one") {
  const auto verifier = make_verifier();
  CHECK_FALSE(verifier.verify(signed_request("{nope"), sent).event_name.has_value());
  const auto unknown = verifier.verify(
      signed_request(R"({"Event":"Nope","Message":{},"Timestamp":"2024-04-18T13:29:23Z"})"), sent);
  CHECK(unknown.event_name == "Nope");
  CHECK_FALSE(unknown.event.has_value());
  const auto alias = verifier.verify(
      signed_request(
          R"({"Event":"OrganizationRegistered","Message":{},"Timestamp":"2024-04-18T13:29:23Z"})"),
      sent);
  CHECK(to_string(alias.kind) == "ok");
  CHECK(alias.event_name == "OrganisationRegistered");
}

TEST_CASE("unknown events pass when they are allowed, without a schema check") {
  const auto verifier =
      make_verifier({.schemas = SchemaRegistry::embedded(), .allow_unknown_events = true});
  const auto verdict = verifier.verify(
      signed_request(R"({"Event":"Nope","Message":{"ID":"x"},"Timestamp":"2024-04-18T13:29:23Z"})"),
      sent);
  CHECK(to_string(verdict.kind) == "ok");
  CHECK(verdict.event_name == "Nope");
}

TEST_CASE("without a schema registry, a Message of any shape passes") {
  const auto verdict = make_verifier().verify(
      signed_request(
          R"({"Event":"ApplicationRegistered","Message":{"ID":"x"},"Timestamp":"2024-04-18T13:29:23Z"})"),
      sent);
  CHECK(to_string(verdict.kind) == "ok");
}

TEST_CASE("the tolerance is strict at its bound, in the past and in the future") {
  const auto verifier = make_verifier({.tolerance = 5min});
  const auto request = signed_request(body);
  const struct {
    std::string_view name;
    TimePoint now;
    std::string_view want;
  } cases[] = {
      {"exactly 5 minutes later", sent + 5min, "ok"},
      {"exactly 5 minutes earlier", sent - 5min, "ok"},
      {"one nanosecond more than 5 minutes later", sent + 5min + 1ns, "stale"},
      {"one nanosecond more than 5 minutes earlier", sent - 5min - 1ns, "stale"},
      {"a year later", sent + 24h * 365, "stale"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto verdict = verifier.verify(request, c.now);
    CHECK(to_string(verdict.kind) == c.want);
    if (!verdict.ok())
      CHECK(verdict.errors.front().find("beyond the tolerance of 5m") != std::string::npos);
  }
}

TEST_CASE(
    "a Timestamp or a now anywhere in the range is stale with its distance (fuzz: verifier)") {
  const auto verifier = make_verifier({.tolerance = 5min});
  const auto body_at = [](std::string_view timestamp) {
    return R"({"Event":"ApplicationRegistered","Message":{"ID":1,"Name":"New App","UserID":1,)"
           R"("CreatedAt":"2024-04-18T13:29:23.738726+02:00"},"Timestamp":")" +
           std::string(timestamp) + "\"}";
  };
  const TimePoint now = *parse_rfc3339("2024-04-24T15:26:04Z");
  const struct {
    std::string_view name;
    std::string_view timestamp;
    TimePoint now;
    std::string_view distance;
  } cases[] = {
      // The input CI's fuzzing found: 1694 to 2024 overflowed a signed subtraction.
      {"1694 against 2024", "1694-04-22T16:38:54.082037+02:00", now,
       " is 120532d in the past, beyond"},
      {"the first time held exactly", "1677-09-21T00:12:43.145224193Z", now,
       " is 126589d 15h in the past, beyond"},
      {"the last time held exactly", "2262-04-11T23:47:16.854775806Z", now,
       " is 86914d 8h ahead of now, beyond"},
      {"Go's zero time (saturated)", "0001-01-01T00:00:00Z", now,
       " is at least 126589d 15h in the past (before the year 1678), beyond"},
      {"the year 9999 (saturated)", "9999-12-31T23:59:59Z", now,
       " is at least 86914d 8h ahead of now (after the year 2261), beyond"},
      {"2024 against a now of min()", "2024-04-24T15:26:04Z", TimePoint::min(),
       " is at least 126589d 15h ahead of now, beyond"},
      {"2024 against a now of max()", "2024-04-24T15:26:04Z", TimePoint::max(),
       " is at least 86914d 8h in the past, beyond"},
      {"the first time against a now of max()", "1677-09-21T00:12:43.145224193Z", TimePoint::max(),
       " is at least 213503d 23h in the past, beyond"},
      {"a year after now", "2025-04-24T15:26:04Z", now, " is 365d ahead of now, beyond"},
      {"22m 58s before now", "2024-04-24T15:03:06Z", now, " is 22m 58s in the past, beyond"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto verdict = verifier.verify(signed_request(body_at(c.timestamp)), c.now);
    REQUIRE(to_string(verdict.kind) == "stale");
    const std::string& error = verdict.errors.front();
    CAPTURE(error);
    CHECK(error.rfind("/Timestamp: " + std::string(c.timestamp), 0) == 0);
    CHECK(error.find(c.distance) != std::string::npos);
    CHECK(error.find("beyond the tolerance of 5m;") != std::string::npos);
  }
  // Both saturated to the same end: no distance can be told apart, and none overflows.
  const auto same_end =
      verifier.verify(signed_request(body_at("0001-01-01T00:00:00Z")), TimePoint::min());
  CHECK(to_string(same_end.kind) == "ok");
}

TEST_CASE("max_future bounds Timestamps ahead of now apart from the tolerance of the past") {
  const struct {
    std::string_view name;
    std::optional<std::chrono::nanoseconds> tolerance;
    std::optional<std::chrono::nanoseconds> max_future;
    TimePoint now;
    std::string_view want;
    std::string_view message;  // a part of the first error, when stale
  } cases[] = {
      // Tighter than the tolerance: 2 s ahead passes, 3 s does not; the past keeps 5 minutes.
      {"tighter: 2s ahead, at the bound", 5min, 2s, sent - 2s, "ok", ""},
      {"tighter: 3s ahead", 5min, 2s, sent - 3s, "stale",
       " is 3s ahead of now, beyond the limit for times ahead of 2s; check both clocks, or raise "
       "--max-future"},
      {"tighter: 4m in the past", 5min, 2s, sent + 4min, "ok", ""},
      {"tighter: 6m 12s in the past", 5min, 2s, sent + 6min + 12s, "stale",
       " is 6m 12s in the past, beyond the tolerance of 5m; check the clocks, or raise "
       "--tolerance"},
      // Looser than the tolerance: 10 minutes ahead pass, the past keeps 5 minutes.
      {"looser: 10m ahead", 5min, 1h, sent - 10min, "ok", ""},
      {"looser: 1h 1ms ahead", 5min, 1h, sent - 1h - 1ms, "stale",
       " is 1h ahead of now, beyond the limit for times ahead of 1h;"},
      {"looser: 10m in the past", 5min, 1h, sent + 10min, "stale",
       " is 10m in the past, beyond the tolerance of 5m;"},
      // Without max_future the tolerance bounds both directions (DESIGN.md), and says which way.
      {"unset: 6m ahead", 5min, std::nullopt, sent - 6min, "stale",
       " is 6m ahead of now, beyond the tolerance of 5m; check both clocks, or allow more with "
       "--max-future or --tolerance"},
      {"unset: 4m ahead", 5min, std::nullopt, sent - 4min, "ok", ""},
      // Without a tolerance, max_future still bounds the future, and nothing bounds the past.
      {"alone: 1m ahead", std::nullopt, 30s, sent - 1min, "stale",
       " is 1m ahead of now, beyond the limit for times ahead of 30s;"},
      {"alone: a year in the past", std::nullopt, 30s, sent + 24h * 365, "ok", ""},
      {"zero: 1ns ahead", 5min, 0s, sent - 1ns, "stale", "beyond the limit for times ahead of 0s"},
      {"zero: exactly now", 5min, 0s, sent, "ok", ""},
  };
  const auto request = signed_request(body);
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto verifier = make_verifier({.tolerance = c.tolerance, .max_future = c.max_future});
    const auto verdict = verifier.verify(request, c.now);
    CHECK(to_string(verdict.kind) == c.want);
    if (verdict.ok() || c.message.empty()) continue;
    const std::string& error = verdict.errors.front();
    CAPTURE(error);
    CHECK(error.find(c.message) != std::string::npos);
  }
}

TEST_CASE("a negative max_future is misuse") {
  CHECK_THROWS_WITH_AS(make_verifier({.max_future = -1s}),
                       "tykhook::Verifier: negative max_future; give 0 or more, or none to use "
                       "the tolerance",
                       std::invalid_argument);
}

TEST_CASE("a tolerance that is not whole units is described exactly") {
  const auto verifier = make_verifier({.tolerance = 1h + 5s + 250ms});
  const auto verdict = verifier.verify(signed_request(body), sent + 2h);
  REQUIRE(to_string(verdict.kind) == "stale");
  CHECK(verdict.errors.front().find("is 2h in the past, beyond the tolerance of 1h 5s 250ms;") !=
        std::string::npos);
}

TEST_CASE("a stale delivery is not claimed in the store, and the first claim wins") {
  auto store = std::make_shared<SetStore>();
  const auto verifier = make_verifier({.tolerance = 1min, .store = store});
  const auto request = signed_request(body);
  CHECK(to_string(verifier.verify(request, sent + 2min).kind) == "stale");
  CHECK(store->size() == 0u);
  CHECK(to_string(verifier.verify(request, sent).kind) == "ok");
  const auto again = verifier.verify(request, sent);
  CHECK(to_string(again.kind) == "duplicate");
  CHECK(again.errors.front().find("seen before") != std::string::npos);
  CHECK(again.event_name == "ApplicationRegistered");
}

TEST_CASE("a failing store is an error of the environment, not a verdict") {
  auto store = std::make_shared<SetStore>();
  store->failing = true;
  const auto verifier = make_verifier({.store = store});
  CHECK_THROWS_AS((void)verifier.verify(signed_request(body), sent), Error);
}

TEST_CASE("rotation: a delivery signed with any configured secret is authentic") {
  VerifierOptions options;
  options.secrets.emplace_back("old-secret");
  options.secrets.emplace_back("new-secret");
  const Verifier verifier(std::move(options));
  CHECK(verifier.verify(signed_request(body, "old-secret"), sent).secret_index == 0u);
  CHECK(verifier.verify(signed_request(body, "new-secret"), sent).secret_index == 1u);
  const auto neither = verifier.verify(signed_request(body, "third"), sent);
  CHECK(to_string(neither.kind) == "signature_mismatch");
  CHECK(neither.errors.front().find("any of the 2 configured secrets") != std::string::npos);
}

TEST_CASE("a body of exactly the size limit passes the size check") {
  const auto verifier = make_verifier({.max_body = body.size()});
  CHECK(to_string(verifier.verify(signed_request(body), sent).kind) == "ok");
  const auto smaller = make_verifier({.max_body = body.size() - 1});
  CHECK(to_string(smaller.verify(signed_request(body), sent).kind) == "too_large");
}

TEST_CASE("misuse is refused at construction") {
  CHECK_THROWS_AS(Verifier(VerifierOptions{}), std::invalid_argument);
  VerifierOptions zero;
  zero.secrets.emplace_back(secret);
  zero.max_body = 0;
  CHECK_THROWS_AS(Verifier(std::move(zero)), std::invalid_argument);
  VerifierOptions negative;
  negative.secrets.emplace_back(secret);
  negative.tolerance = -1ns;
  CHECK_THROWS_WITH_AS(Verifier(std::move(negative)),
                       "tykhook::Verifier: negative tolerance; give 0 or more, or none to turn "
                       "the check off",
                       std::invalid_argument);
}

TEST_CASE("no error message carries the secret or the expected signature") {
  const auto verifier = make_verifier();
  auto request = signed_request(body + " ");
  request.headers.front().value = sign(secret, body);
  const auto verdict = verifier.verify(request, sent);
  CHECK(to_string(verdict.kind) == "signature_mismatch");
  for (const auto& error : verdict.errors) {
    CHECK(error.find(secret) == std::string::npos);
    CHECK(error.find(sign(secret, body + " ")) == std::string::npos);
  }
}

TEST_CASE("an unknown event is quoted as JSON, cut at a character boundary (fuzz: verifier)") {
  // The raw Event went into the message as it was: a newline split the message's line, and the
  // cut at 64 bytes could split a UTF-8 character.
  const auto verifier = make_verifier();
  const auto message_for = [&](const std::string& event) {
    const std::string bytes =
        R"({"Event":")" + event + R"(","Message":{},"Timestamp":"2024-04-18T13:29:23Z"})";
    const auto verdict = verifier.verify(signed_request(bytes), sent);
    CHECK(to_string(verdict.kind) == "unknown_event");
    return verdict.errors.at(0);
  };
  CHECK(message_for(R"(a\nb)").starts_with(R"(/Event: "a\nb" is not a portal event)"));
  CHECK(message_for(std::string(63, 'e') + "\xc3\xa9")
            .starts_with("/Event: \"" + std::string(63, 'e') + "...\" is not a portal event"));
}

TEST_CASE("without keep_message every verdict is the same, with a null Message") {
  const std::string negative_zero =  // declined by the fast path: the slow path answers ok
      R"({"Event":"ApplicationRegistered","Message":{"ID":1,"Name":"New App","UserID":-0,)"
      R"("CreatedAt":"2024-04-18T13:29:23.738726+02:00"},"Timestamp":"2024-04-18T13:29:23Z"})";
  std::vector<std::string> bodies = bodies_of_every_event();
  bodies.push_back(negative_zero);
  bodies.push_back(R"({"Event":"Nope","Message":{},"Timestamp":"2024-04-18T13:29:23Z"})");
  bodies.push_back(R"({"Event":"UserRegistered","Message":{"a":1,"a":2},"Timestamp":"x"})");
  bodies.push_back("{nope");
  const auto store = std::make_shared<SetStore>();
  const auto keeping = make_verifier({.schemas = SchemaRegistry::embedded()});
  const auto dropping =
      make_verifier({.schemas = SchemaRegistry::embedded(), .store = store, .keep_message = false});
  int ok = 0;
  for (int round = 0; round < 2; ++round) {  // the second round: duplicates
    for (const std::string& text : bodies) {
      CAPTURE(text);
      const Verdict kept = keeping.verify(signed_request(text), sent);
      const Verdict dropped = dropping.verify(signed_request(text), sent);
      CHECK(dropped.kind == (round == 1 && kept.ok() ? VerdictKind::duplicate : kept.kind));
      if (round == 0) CHECK(dropped.errors == kept.errors);
      CHECK(dropped.event == kept.event);
      CHECK(dropped.event_name == kept.event_name);
      CHECK(dropped.idempotency_key == kept.idempotency_key);
      REQUIRE(dropped.envelope.has_value() == kept.envelope.has_value());
      if (!kept.envelope) continue;
      CHECK(dropped.envelope->message.is_null());
      CHECK(dropped.envelope->timestamp == kept.envelope->timestamp);
      CHECK(dropped.envelope->timestamp_text == kept.envelope->timestamp_text);
      ok += round == 0 && kept.ok() ? 1 : 0;
    }
  }
  // Every event's sample, the "-0" body, and RegisterInvite's broken one (its Message has no
  // rules).
  CHECK(ok == static_cast<int>(all_events().size()) + 2);
}
