#include "tykhook/dispatcher.h"

#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tykhook/schema.h"
#include "tykhook/signature.h"

using namespace tykhook;

namespace {

const std::string secret = "dispatcher-test-secret";

std::string sample_body(std::string_view event) {
  std::ifstream in(
      std::filesystem::path(TYKHOOK_SOURCE_DIR) / "samples/bodies" / (std::string(event) + ".json"),
      std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  REQUIRE_FALSE(bytes.str().empty());
  return bytes.str();
}

const std::string unknown_body =
    R"({"Event":"UserDeleted","Message":{"ID":3},"Timestamp":"2024-04-22T16:38:54.082037+02:00"})";

// Verifies `body`, signed with `key`, as a receiver would: schemas on, unknown events allowed
// unless `strict`.
Verdict verify_body(const std::string& body, const std::string& key = secret, bool strict = false) {
  const Verifier verifier({.secrets = {Secret(secret)},
                           .schemas = SchemaRegistry::embedded(),
                           .allow_unknown_events = !strict});
  const Request request{.headers = {{std::string(signature_header), sign(key, body)}},
                        .body = body};
  return verifier.verify(request, TimePoint{});
}

Verdict ok_verdict(const std::string& body) {
  Verdict verdict = verify_body(body);
  CAPTURE(to_string(verdict.kind));
  REQUIRE(verdict.ok());
  return verdict;
}

// A dispatcher with untyped handlers that record their name in `calls`.
struct Recorder {
  std::vector<std::string> calls;
  Dispatcher::AnyHandler record(std::string name) {
    return [this, name](const Verdict&) { calls.push_back(name); };
  }
};

}  // namespace

TEST_CASE("dispatch calls exactly the handler registered for the event, and no other") {
  const struct {
    std::string_view name;
    std::string body;
    std::vector<std::string> want;
  } cases[] = {
      {"UserRegistered", sample_body("UserRegistered"), {"user registered"}},
      {"PasswordReset", sample_body("PasswordReset"), {"password reset"}},
      {"ApplicationRegistered", sample_body("ApplicationRegistered"), {"application"}},
      {"OrganisationRegistered", sample_body("OrganisationRegistered"), {"organisation"}},
      {"no handler of its own: on_any", sample_body("CredentialRegistered"), {"any"}},
      {"an unknown event: on_any", unknown_body, {"any"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    Recorder recorder;
    Dispatcher dispatcher;
    dispatcher.on(Event::UserRegistered, recorder.record("user registered"))
        .on(Event::PasswordReset, recorder.record("password reset"))
        .on(Event::ApplicationRegistered, recorder.record("application"))
        .on(Event::OrganisationRegistered, recorder.record("organisation"))
        .on_any(recorder.record("any"));
    CHECK(dispatcher.dispatch(ok_verdict(c.body)));
    CHECK(recorder.calls == c.want);
  }
}

TEST_CASE("on_any gets the verdict of an unknown event, with its raw name and Message") {
  Dispatcher dispatcher;
  std::string name;
  nlohmann::json message;
  dispatcher.on_any([&](const Verdict& verdict) {
    CHECK_FALSE(verdict.event.has_value());
    name = verdict.event_name.value_or("");
    message = verdict.envelope->message;
  });
  CHECK(dispatcher.dispatch(ok_verdict(unknown_body)));
  CHECK(name == "UserDeleted");
  CHECK(message == nlohmann::json{{"ID", 3}});
}

TEST_CASE("dispatch returns false when no handler applies") {
  Recorder recorder;
  Dispatcher dispatcher;
  CHECK(dispatcher.empty());
  CHECK_FALSE(dispatcher.dispatch(ok_verdict(sample_body("UserRegistered"))));
  dispatcher.on(Event::PasswordReset, recorder.record("password reset"));
  CHECK_FALSE(dispatcher.empty());
  CHECK_FALSE(Dispatcher().on_any(recorder.record("any")).empty());
  CHECK_FALSE(dispatcher.dispatch(ok_verdict(sample_body("UserRegistered"))));
  CHECK_FALSE(dispatcher.dispatch(ok_verdict(unknown_body)));
  CHECK(recorder.calls.empty());
}

TEST_CASE("a typed handler receives its event's Message as the typed struct") {
  Dispatcher dispatcher;
  int calls = 0;
  const Verdict verdict = ok_verdict(sample_body("UserRegistered"));
  dispatcher.on<Event::UserRegistered>([&](const UserMessage& user, const Verdict& passed) {
    ++calls;
    CHECK(&passed == &verdict);
    CHECK(user.id == 29);
    CHECK(user.email == "developer@user.com");
    REQUIRE(user.custom_attributes.size() == 1);
    CHECK(user.custom_attributes[0].identifier == "company-name");
    CHECK(user.custom_attributes[0].value == "ACME");
    CHECK(user.created_at == *parse_rfc3339("2024-04-22T16:38:54.068565+02:00"));
  });
  dispatcher.on<Event::AccessRequestCreated>(
      [&](const AccessRequestMessage& request, const Verdict&) {
        ++calls;
        CHECK(request.product_ids == std::vector<std::int64_t>{1});
        CHECK(request.created_at == TimePoint::min());
      });
  dispatcher.on<Event::OrganisationRequestApproved>([&](const UserMessage& user, const Verdict&) {
    ++calls;
    CHECK(user.id == 11);
    CHECK_FALSE(user.by_user.has_value());
  });
  CHECK(dispatcher.dispatch(verdict));
  CHECK(dispatcher.dispatch(ok_verdict(sample_body("AccessRequestCreated"))));
  // The alias arrives as its wire event.
  std::string alias = sample_body("OrganisationRequestApproved");
  alias.replace(alias.find("Organisation"), 12, "Organization");
  CHECK(dispatcher.dispatch(ok_verdict(alias)));
  CHECK(calls == 3);
}

TEST_CASE("what a handler throws comes out of dispatch") {
  Dispatcher dispatcher;
  dispatcher.on(Event::UserRegistered, [](const Verdict&) { throw std::runtime_error("untyped"); });
  dispatcher.on<Event::PasswordReset>(
      [](const UserMessage&, const Verdict&) { throw std::logic_error("typed"); });
  dispatcher.on_any([](const Verdict&) { throw Error("any"); });
  CHECK_THROWS_WITH_AS(dispatcher.dispatch(ok_verdict(sample_body("UserRegistered"))), "untyped",
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(dispatcher.dispatch(ok_verdict(sample_body("PasswordReset"))), "typed",
                       std::logic_error);
  CHECK_THROWS_WITH_AS(dispatcher.dispatch(ok_verdict(unknown_body)), "any", Error);
}

TEST_CASE("a typed handler's Message that does not fit its struct is a tykhook::Error") {
  // Without schemas the verifier lets an ID of the wrong type through; the struct cannot.
  const std::string body =
      R"({"Event":"UserRegistered","Message":{"ID":"29"},"Timestamp":"2024-04-22T16:38:54Z"})";
  const Verifier verifier({.secrets = {Secret(secret)}});
  const Verdict verdict = verifier.verify(
      Request{.headers = {{std::string(signature_header), sign(secret, body)}}, .body = body},
      TimePoint{});
  REQUIRE(verdict.ok());
  bool called = false;
  Dispatcher dispatcher;
  dispatcher.on<Event::UserRegistered>([&](const UserMessage&, const Verdict&) { called = true; });
  CHECK_THROWS_WITH_AS(dispatcher.dispatch(verdict), "/Message/ID: expected integer, got string",
                       Error);
  CHECK_FALSE(called);
}

TEST_CASE("a verdict that is not ok, or has no envelope, is refused") {
  const std::string body = sample_body("UserRegistered");
  const std::string schema_broken =
      R"({"Event":"UserRegistered","Message":{"ID":"29"},"Timestamp":"2024-04-22T16:38:54Z"})";
  Verdict hand_made;
  hand_made.kind = VerdictKind::ok;
  hand_made.event = Event::UserRegistered;
  const struct {
    std::string_view name;
    Verdict verdict;
    std::string_view want;
  } cases[] = {
      {"signature_mismatch", verify_body(body, "another-secret"),
       "Dispatcher::dispatch: the verdict is signature_mismatch, not ok"},
      {"missing_signature",
       Verifier({.secrets = {Secret(secret)}}).verify(Request{.body = body}, {}),
       "Dispatcher::dispatch: the verdict is missing_signature, not ok"},
      {"malformed_json", verify_body("{"), "Dispatcher::dispatch: the verdict is malformed_json"},
      {"unknown_event", verify_body(unknown_body, secret, true),
       "Dispatcher::dispatch: the verdict is unknown_event"},
      {"schema_violation, with an envelope", verify_body(schema_broken),
       "Dispatcher::dispatch: the verdict is schema_violation"},
      {"ok but without an envelope", hand_made,
       "Dispatcher::dispatch: the verdict has no envelope"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    Recorder recorder;
    Dispatcher dispatcher;
    dispatcher.on(Event::UserRegistered, recorder.record("user registered"))
        .on_any(recorder.record("any"));
    std::string what;
    try {
      (void)dispatcher.dispatch(c.verdict);
    } catch (const std::invalid_argument& e) {
      what = e.what();
    }
    CAPTURE(what);
    CHECK(what.find(c.want) == 0);
    CHECK(recorder.calls.empty());
  }
}

TEST_CASE("registering again replaces the earlier handler") {
  const Verdict user = ok_verdict(sample_body("UserRegistered"));
  const Verdict unknown = ok_verdict(unknown_body);
  Recorder recorder;
  Dispatcher dispatcher;
  dispatcher.on(Event::UserRegistered, recorder.record("first"))
      .on(Event::UserRegistered, recorder.record("second"))
      .on_any(recorder.record("any first"))
      .on_any(recorder.record("any second"));
  CHECK(dispatcher.dispatch(user));
  CHECK(dispatcher.dispatch(unknown));
  CHECK(recorder.calls == std::vector<std::string>{"second", "any second"});

  // A typed handler replaces an untyped one of the same event, and the other way round.
  recorder.calls.clear();
  dispatcher.on<Event::UserRegistered>(
      [&](const UserMessage&, const Verdict&) { recorder.calls.push_back("typed"); });
  CHECK(dispatcher.dispatch(user));
  dispatcher.on(Event::UserRegistered, recorder.record("untyped again"));
  CHECK(dispatcher.dispatch(user));
  CHECK(recorder.calls == std::vector<std::string>{"typed", "untyped again"});

  // An empty handler counts as none: the delivery falls to on_any.
  recorder.calls.clear();
  dispatcher.on(Event::UserRegistered, nullptr);
  CHECK(dispatcher.dispatch(user));
  dispatcher.on_any(nullptr);
  CHECK_FALSE(dispatcher.dispatch(user));
  CHECK(recorder.calls == std::vector<std::string>{"any second"});
}

TEST_CASE("a dispatcher set up once can dispatch from many threads at once") {
  const Verdict user = ok_verdict(sample_body("UserRegistered"));
  const Verdict reset = ok_verdict(sample_body("PasswordReset"));
  std::atomic<int> users{0};
  std::atomic<int> others{0};
  Dispatcher dispatcher;
  dispatcher.on<Event::UserRegistered>([&](const UserMessage& m, const Verdict&) {
    if (m.id == 29) ++users;
  });
  dispatcher.on_any([&](const Verdict&) { ++others; });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        (void)dispatcher.dispatch(user);
        (void)dispatcher.dispatch(reset);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(users == 800);
  CHECK(others == 800);
}
