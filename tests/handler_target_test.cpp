#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "support/files.h"
#include "tykhook/targets.h"
#include "tykhook/verifier.h"

using namespace tykhook;

namespace {

const std::string body = test::source_file("samples/bodies/UserRegistered.json");
// UserRegistered whose ID is a string: valid JSON, but not a UserMessage.
const std::string misfit_body =
    R"({"Event":"UserRegistered","Message":{"ID":"29"},"Timestamp":"2024-04-22T16:38:54Z"})";
const std::string unknown_body =
    R"({"Event":"UserDeleted","Message":{"ID":3},"Timestamp":"2024-04-22T16:38:54Z"})";

QueueEntry entry_of(const std::string& bytes) {
  QueueEntry entry;
  entry.key = "key-of-the-queue";
  entry.event = "UserRegistered";
  entry.request.body = bytes;
  entry.attempts = 1;
  return entry;
}

AttemptResult attempt(Dispatcher dispatcher, const std::string& bytes = body) {
  return handler_target(std::move(dispatcher))->attempt(entry_of(bytes));
}

}  // namespace

TEST_CASE("a handler that returns is done, and sees the typed Message and the entry's key") {
  std::vector<std::string> seen;
  Dispatcher dispatcher;
  dispatcher.on<Event::UserRegistered>([&](const UserMessage& user, const Verdict& verdict) {
    seen.push_back(user.email + " " + verdict.idempotency_key);
  });
  const auto result = attempt(dispatcher);
  CHECK(to_string(result.outcome) == "done");
  CHECK(result.error.empty());
  CHECK(seen == std::vector<std::string>{"developer@user.com key-of-the-queue"});
}

TEST_CASE("a delivery that no handler takes is done") {
  Dispatcher dispatcher;
  dispatcher.on(Event::PasswordReset, [](const Verdict&) { FAIL("wrong handler"); });
  CHECK(to_string(attempt(dispatcher).outcome) == "done");
}

TEST_CASE("an unknown event reaches the handler of any delivery") {
  std::string seen;
  Dispatcher dispatcher;
  dispatcher.on_any([&](const Verdict& verdict) { seen = verdict.event_name.value_or(""); });
  CHECK(to_string(attempt(dispatcher, unknown_body).outcome) == "done");
  CHECK(seen == "UserDeleted");
}

TEST_CASE("what a handler throws decides: GiveUp dead, anything else retry with its message") {
  const struct {
    std::string_view name;
    std::function<void()> thrown;
    std::string_view outcome;
    std::string_view error;
  } cases[] = {
      {"GiveUp", [] { throw GiveUp("user 29 is unknown here"); }, "dead",
       "handler gave up: user 29 is unknown here"},
      {"tykhook::Error", [] { throw Error("database gone"); }, "retry",
       "handler failed: database gone"},
      {"a standard exception", [] { throw std::runtime_error("timeout talking to crm"); }, "retry",
       "handler failed: timeout talking to crm"},
      {"not an exception", [] { throw 42; }, "retry",
       "handler failed: it threw something that is not an exception"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    Dispatcher dispatcher;
    dispatcher.on<Event::UserRegistered>([&](const UserMessage&, const Verdict&) { c.thrown(); });
    const auto result = attempt(dispatcher);
    CHECK(to_string(result.outcome) == c.outcome);
    CHECK(result.error == c.error);
  }
}

TEST_CASE("a Message that does not fit its handler's struct is dead, without calling it") {
  bool called = false;
  Dispatcher dispatcher;
  dispatcher.on<Event::UserRegistered>([&](const UserMessage&, const Verdict&) { called = true; });
  const auto result = attempt(dispatcher, misfit_body);
  CHECK(to_string(result.outcome) == "dead");
  CHECK(result.error.starts_with("handler: the Message does not fit its struct: /Message/ID"));
  CHECK_FALSE(called);
}

TEST_CASE("an untyped handler's own tykhook::Error on a misfit Message is still retried") {
  // Only the dispatcher's own reading of the struct is final; the handler's failure may pass.
  Dispatcher dispatcher;
  dispatcher.on(Event::UserRegistered, [](const Verdict&) { throw Error("database gone"); });
  const auto result = attempt(dispatcher, misfit_body);
  CHECK(to_string(result.outcome) == "retry");
  CHECK(result.error == "handler failed: database gone");
}

TEST_CASE("a queued body that is not a delivery is dead") {
  Dispatcher dispatcher;
  dispatcher.on_any([](const Verdict&) { FAIL("called"); });
  const auto result = attempt(dispatcher, "{\"Event\":");
  CHECK(to_string(result.outcome) == "dead");
  CHECK(result.error.starts_with("handler: the queued body is malformed_json: "));
  CHECK(handler_target(Dispatcher())->describe() == "handler");
}
