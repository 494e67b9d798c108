#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "tykhook/worker.h"

using namespace tykhook;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

namespace {

const TimePoint arrival = std::chrono::sys_days{std::chrono::year{2026} / 12 / 5};

QueueEntry entry_with(unsigned attempts) {
  QueueEntry entry;
  entry.key = std::string(64, 'a');
  entry.received = arrival;
  entry.attempts = attempts;
  return entry;
}

AttemptResult failure(AttemptOutcome outcome = AttemptOutcome::retry) {
  return {outcome, "http://127.0.0.1:9/hook: 503 Service Unavailable", std::nullopt};
}

}  // namespace

TEST_CASE("the longest wait doubles from the base with each failed attempt, up to the cap") {
  const RetryPolicy policy;  // DESIGN.md's defaults: base 1s, cap 1h
  const struct {
    unsigned attempts;
    milliseconds want;
  } cases[] = {{1, 1s},     {2, 2s},  {3, 4s},   {4, 8s},
               {12, 2048s}, {13, 1h}, {100, 1h}, {4'000'000'000u, 1h}};
  for (const auto& c : cases) {
    CAPTURE(c.attempts);
    CHECK(backoff_limit(c.attempts, policy).count() == c.want.count());
  }
  CHECK(backoff_limit(3, {.base = 250ms, .cap = 600ms}).count() == 600);
  CHECK(backoff_limit(2, {.base = 250ms, .cap = 600ms}).count() == 500);
}

TEST_CASE("the wait is a random point between zero and the longest wait (full jitter)") {
  const RetryPolicy policy;
  CHECK(backoff_delay(3, policy, 0.0).count() == 0);
  CHECK(backoff_delay(3, policy, 0.5).count() == 2'000);
  CHECK(backoff_delay(3, policy, 0.999999).count() == 3'999);
  CHECK(backoff_delay(30, policy, 0.5).count() == 1'800'000);
  // Out-of-range draws are held to the range rather than trusted.
  CHECK(backoff_delay(3, policy, -1.0).count() == 0);
  CHECK(backoff_delay(3, policy, 7.0).count() == 4'000);
}

TEST_CASE("a Retry-After longer than the drawn wait is honoured, up to the cap") {
  const RetryPolicy policy{.base = 1s, .cap = 10min};
  CHECK(backoff_delay(1, policy, 0.5, 30s).count() == 30'000);
  CHECK(backoff_delay(1, policy, 0.5, 2h).count() == 600'000);
  // A shorter Retry-After does not make the wait shorter than the drawn one.
  CHECK(backoff_delay(5, policy, 0.5, 1s).count() == 8'000);
}

TEST_CASE("a successful attempt is done, whatever the attempts before it") {
  const AttemptRecord record = after_attempt(entry_with(57), {}, arrival + 1h, {}, 0.5);
  CHECK(to_string(record.state) == "done");
  CHECK_FALSE(record.next_attempt.has_value());
  CHECK_FALSE(record.error.has_value());
}

TEST_CASE("a failed attempt is retried after the jittered wait, with its error kept") {
  const TimePoint now = arrival + 10s;
  const AttemptRecord record = after_attempt(entry_with(3), failure(), now, {}, 0.25);
  CHECK(to_string(record.state) == "retrying");
  REQUIRE(record.next_attempt.has_value());
  CHECK((*record.next_attempt - now) == milliseconds(1'000));
  CHECK(record.error.value_or("") == "http://127.0.0.1:9/hook: 503 Service Unavailable");
}

TEST_CASE("a failure that will not pass is dead at once, on the first attempt as on any") {
  for (const unsigned attempts : {1u, 2u, 99u}) {
    CAPTURE(attempts);
    const AttemptRecord record =
        after_attempt(entry_with(attempts), failure(AttemptOutcome::dead), arrival, {}, 0.5);
    CHECK(to_string(record.state) == "dead");
    CHECK_FALSE(record.next_attempt.has_value());
    CHECK(record.error.value_or("").find("503") != std::string::npos);
  }
}

TEST_CASE("the attempt that reaches --max-attempts gives up into dead and says why") {
  const RetryPolicy policy{.max_attempts = 5};
  CHECK(to_string(after_attempt(entry_with(4), failure(), arrival, policy, 0.5).state) ==
        "retrying");
  const AttemptRecord record = after_attempt(entry_with(5), failure(), arrival, policy, 0.5);
  CHECK(to_string(record.state) == "dead");
  CHECK(record.error.value_or("") ==
        "http://127.0.0.1:9/hook: 503 Service Unavailable; gave up after 5 attempts "
        "(--max-attempts)");
}

TEST_CASE("an attempt whose next one would come after --max-age gives up into dead") {
  const RetryPolicy policy{.base = 1s, .cap = 1h, .max_age = 72h};
  // Drawn wait at attempt 20: half the cap, 30 minutes.
  const TimePoint early = arrival + 71h;
  CHECK(to_string(after_attempt(entry_with(20), failure(), early, policy, 0.5).state) ==
        "retrying");
  const TimePoint late = arrival + 71h + 31min;
  const AttemptRecord record = after_attempt(entry_with(20), failure(), late, policy, 0.5);
  CHECK(to_string(record.state) == "dead");
  CHECK(record.error.value_or("").find("--max-age") != std::string::npos);
}

TEST_CASE("after queue retry, attempts and age count from the retry, not the arrival") {
  const RetryPolicy policy{.max_age = 72h};
  QueueEntry entry = entry_with(1);
  entry.retried = arrival + 100h;
  const AttemptRecord record = after_attempt(entry, failure(), arrival + 100h + 1s, policy, 0.5);
  CHECK(to_string(record.state) == "retrying");
}

TEST_CASE("queue states and attempt outcomes are spelled as DESIGN.md spells them") {
  for (const auto name : {"pending", "retrying", "done", "dead"}) {
    CAPTURE(std::string_view(name));
    const auto state = parse_queue_state(name);
    REQUIRE(state.has_value());
    CHECK(to_string(*state) == name);
  }
  CHECK_FALSE(parse_queue_state("Dead").has_value());
  CHECK_FALSE(parse_queue_state("").has_value());
  CHECK(to_string(AttemptOutcome::done) == "done");
  CHECK(to_string(AttemptOutcome::retry) == "retry");
  CHECK(to_string(AttemptOutcome::dead) == "dead");
}
