#include "tykhook/worker.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "handoff.h"
#include "support/wait.h"
#include "tykhook/store.h"

using namespace tykhook;
using namespace tykhook::test;
using namespace std::chrono_literals;

namespace {

const TimePoint start = std::chrono::sys_days{std::chrono::year{2026} / 12 / 5};

// A clock that moves only when the test says.
struct FakeClock {
  std::mutex mutex;
  TimePoint now = start;
  TimePoint operator()() {
    const std::lock_guard lock(mutex);
    return now;
  }
  void advance(std::chrono::nanoseconds by) {
    const std::lock_guard lock(mutex);
    now += by;
  }
};

// A target that answers from a script and records every attempt.
class ScriptedTarget : public Target {
 public:
  std::function<AttemptResult(const QueueEntry&)> answer = [](const QueueEntry&) {
    return AttemptResult{};
  };
  std::chrono::milliseconds hold{0};  // how long each attempt takes

  AttemptResult attempt(const QueueEntry& entry) override {
    {
      const std::lock_guard lock(mutex_);
      attempts_.push_back(entry.key + "#" + std::to_string(entry.attempts));
      ++in_flight_;
      most_at_once_ = std::max(most_at_once_, in_flight_);
    }
    std::this_thread::sleep_for(hold);
    const AttemptResult result = answer(entry);
    const std::lock_guard lock(mutex_);
    --in_flight_;
    return result;
  }
  std::string describe() const override { return "scripted target"; }

  std::vector<std::string> attempts() {
    const std::lock_guard lock(mutex_);
    return attempts_;
  }
  int most_at_once() {
    const std::lock_guard lock(mutex_);
    return most_at_once_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> attempts_;
  int in_flight_ = 0;
  int most_at_once_ = 0;
};

QueueEntry entry_for(const std::string& key, TimePoint received = start) {
  QueueEntry entry;
  entry.key = key;
  entry.event = "UserRegistered";
  entry.request.body = R"({"Event":"UserRegistered"})" + key;
  entry.received = received;
  entry.next_attempt = received;
  return entry;
}

// A worker running on a thread of its own until the end of the scope.
class Running {
 public:
  explicit Running(WorkerOptions options) : worker_(std::move(options)) {
    thread_ = std::thread([this] { worker_.run(); });
  }
  ~Running() {
    worker_.stop();
    thread_.join();
  }
  Worker& worker() { return worker_; }

 private:
  Worker worker_;
  std::thread thread_;
};

std::size_t in_state(Store& store, QueueState state) { return store.list(state, 1000).size(); }

}  // namespace

TEST_CASE("every queued entry is handed on once and marked done") {
  const std::shared_ptr<Store> store = open_store("memory:");
  const auto target = std::make_shared<ScriptedTarget>();
  for (int i = 0; i < 20; ++i) {
    REQUIRE(store->claim_and_enqueue(entry_for("key" + std::to_string(i)), 1h));
  }
  Running running({.store = store, .target = target});
  REQUIRE(wait_until("20 entries done", [&] { return in_state(*store, QueueState::done) == 20; }));
  const auto attempts = target->attempts();
  CHECK(attempts.size() == 20);
  CHECK(std::set<std::string>(attempts.begin(), attempts.end()).size() == 20);
}

TEST_CASE("no more attempts run at once than the concurrency allows") {
  const std::shared_ptr<Store> store = open_store("memory:");
  const auto target = std::make_shared<ScriptedTarget>();
  target->hold = 20ms;
  for (int i = 0; i < 12; ++i) {
    REQUIRE(store->claim_and_enqueue(entry_for("key" + std::to_string(i)), 1h));
  }
  Running running({.store = store, .target = target, .concurrency = 3});
  REQUIRE(wait_until("12 entries done", [&] { return in_state(*store, QueueState::done) == 12; }));
  CHECK(target->most_at_once() == 3);
}

TEST_CASE("a failed attempt waits out its backoff on the worker's clock, then is tried again") {
  const std::shared_ptr<Store> store = open_store("memory:");
  const auto target = std::make_shared<ScriptedTarget>();
  std::atomic<int> calls{0};
  target->answer = [&](const QueueEntry&) {
    return calls++ == 0 ? AttemptResult{AttemptOutcome::retry, "503", std::nullopt}
                        : AttemptResult{};
  };
  const auto clock = std::make_shared<FakeClock>();
  REQUIRE(store->claim_and_enqueue(entry_for("only"), 1h));
  std::mutex mutex;
  std::vector<TimePoint> reported;  // AttemptReport::time of each attempt
  Running running({.store = store,
                   .target = target,
                   .retry = {.base = 10s, .cap = 10s},
                   .poll = 20ms,
                   .clock = [clock] { return (*clock)(); },
                   .random = [] { return 0.5; },
                   .on_attempt =
                       [&](const AttemptReport& report) {
                         const std::lock_guard lock(mutex);
                         reported.push_back(report.time);
                       }});
  REQUIRE(wait_until("the first attempt failed",
                     [&] { return in_state(*store, QueueState::retrying) == 1; }));
  const auto entry = store->find("only");
  REQUIRE(entry.has_value());
  CHECK(entry->next_attempt == start + 5s);  // half of the 10s limit
  CHECK(entry->last_error.value_or("") == "503");
  // Real time passes, the worker's clock does not: no second attempt.
  std::this_thread::sleep_for(100ms);  // the behaviour under test: nothing happens meanwhile
  CHECK(calls == 1);
  clock->advance(5s);
  running.worker().wake();
  REQUIRE(wait_until("the second attempt done",
                     [&] { return in_state(*store, QueueState::done) == 1; }));
  CHECK(target->attempts() == std::vector<std::string>{"only#1", "only#2"});
  // Each report is timed by the worker's clock, not the wall clock.
  REQUIRE(wait_until("both reports", [&] {
    const std::lock_guard lock(mutex);
    return reported.size() == 2;
  }));
  CHECK(reported == std::vector<TimePoint>{start, start + 5s});
}

TEST_CASE("a target that gives up puts the entry in dead at once") {
  const std::shared_ptr<Store> store = open_store("memory:");
  const auto target = std::make_shared<ScriptedTarget>();
  target->answer = [](const QueueEntry&) {
    return AttemptResult{AttemptOutcome::dead, "400 Bad Request", std::nullopt};
  };
  REQUIRE(store->claim_and_enqueue(entry_for("bad"), 1h));
  std::mutex mutex;
  std::vector<std::string> reports;
  Running running({.store = store, .target = target, .on_attempt = [&](const AttemptReport& r) {
                     const std::lock_guard lock(mutex);
                     reports.push_back(std::string(to_string(r.record.state)) + " " +
                                       r.record.error.value_or(""));
                   }});
  REQUIRE(wait_until("dead", [&] { return in_state(*store, QueueState::dead) == 1; }));
  CHECK(target->attempts().size() == 1);
  REQUIRE(wait_until("the report", [&] {
    const std::lock_guard lock(mutex);
    return reports.size() == 1;
  }));
  CHECK(reports[0] == "dead 400 Bad Request");
}

TEST_CASE("a target that throws counts as a failure that may pass, not as a crash") {
  const std::shared_ptr<Store> store = open_store("memory:");
  const auto target = std::make_shared<ScriptedTarget>();
  target->answer = [](const QueueEntry&) -> AttemptResult {
    throw std::runtime_error("broken target");
  };
  REQUIRE(store->claim_and_enqueue(entry_for("k"), 1h));
  Running running({.store = store, .target = target, .retry = {.base = 1h}});
  REQUIRE(wait_until("retrying", [&] { return in_state(*store, QueueState::retrying) == 1; }));
  CHECK(store->find("k")->last_error.value_or("") == "scripted target: broken target");
}

TEST_CASE("stop waits for the attempts in flight, up to the drain time, and then returns") {
  const std::shared_ptr<Store> store = open_store("memory:");
  const auto target = std::make_shared<ScriptedTarget>();
  target->hold = 300ms;
  REQUIRE(store->claim_and_enqueue(entry_for("slow"), 1h));
  {
    Worker worker({.store = store, .target = target, .drain = 5s});
    std::thread thread([&] { worker.run(); });
    REQUIRE(wait_until("the attempt started", [&] { return target->attempts().size() == 1; }));
    worker.stop();
    thread.join();
  }
  // The attempt finished before run() returned, and its outcome is recorded.
  CHECK(in_state(*store, QueueState::done) == 1);

  // With a drain shorter than the attempt, run() returns first; the lease keeps the entry.
  target->hold = 1s;
  const auto clock = std::make_shared<FakeClock>();
  REQUIRE(store->claim_and_enqueue(entry_for("slower"), 1h));
  const auto stopped_at = std::chrono::steady_clock::now();
  {
    Worker worker(
        {.store = store, .target = target, .lease = 1min, .drain = 50ms, .clock = [clock] {
           return (*clock)();
         }});
    std::thread thread([&] { worker.run(); });
    REQUIRE(wait_until("the attempt started", [&] { return target->attempts().size() == 2; }));
    worker.stop();
    thread.join();
  }
  CHECK(std::chrono::steady_clock::now() - stopped_at < 900ms);
  CHECK(store->take(start, 1min, 10).empty());  // still leased
}

TEST_CASE("an entry leased by its producer is attempted in the slot it reserved, without a take") {
  const std::shared_ptr<Store> store = open_store("memory:");
  const auto target = std::make_shared<ScriptedTarget>();
  // An hour between looks at the store, and no wake(): only hand() can start this attempt
  // before the lease (an hour too) runs out.
  Running running({.store = store, .target = target, .lease = 1h, .poll = 1h});
  Worker& worker = running.worker();
  REQUIRE(wait_until("a slot", [&] { return worker.reserve(); }));
  QueueEntry entry = entry_for("handed");
  const ClaimedLease claimed = store->claim_and_lease(entry, 1h, start + 1h);
  REQUIRE(claimed.token);
  entry.attempts = 1;
  worker.hand({entry, *claimed.token});
  REQUIRE(wait_until("the entry done", [&] { return in_state(*store, QueueState::done) == 1; }));
  CHECK(target->attempts() == std::vector<std::string>{"handed#1"});
}

TEST_CASE("reserve gives at most the concurrency's slots, and unreserve gives one back") {
  const std::shared_ptr<Store> store = open_store("memory:");
  const auto target = std::make_shared<ScriptedTarget>();
  {
    Worker idle({.store = store, .target = target, .concurrency = 2});
    CHECK_FALSE(idle.reserve());  // not running: nothing would attempt the entry
  }
  Running running({.store = store, .target = target, .concurrency = 2, .poll = 10ms});
  Worker& worker = running.worker();
  REQUIRE(wait_until("a slot", [&] { return worker.reserve(); }));
  CHECK(worker.reserve());
  CHECK_FALSE(worker.reserve());
  // Both slots reserved: a queued entry waits for one, however often the worker looks.
  REQUIRE(store->claim_and_enqueue(entry_for("queued"), 1h));
  worker.wake();
  worker.unreserve();
  REQUIRE(wait_until("the entry done", [&] { return in_state(*store, QueueState::done) == 1; }));
  CHECK(target->attempts() == std::vector<std::string>{"queued#1"});
  worker.unreserve();
  CHECK(worker.reserve());
  CHECK(worker.reserve());
  CHECK_FALSE(worker.reserve());
  worker.unreserve();
  worker.unreserve();
}

TEST_CASE("a hand-off whose claim leases nothing gives its slot back at once") {
  const std::shared_ptr<Store> store = open_store("memory:");
  const auto target = std::make_shared<ScriptedTarget>();
  Running running({.store = store, .target = target, .concurrency = 1, .poll = 1h});
  Worker& worker = running.worker();
  REQUIRE(wait_until("a slot", [&] { return worker.reserve(); }));
  worker.unreserve();
  REQUIRE(store->claim("duplicate", 1h));
  {
    // A duplicate: the claim loses, and the slot is free again while the answer goes on.
    detail::Handoff handoff(worker);
    CHECK_FALSE(handoff.claim(*store, entry_for("duplicate"), 1h, 1min));
    CHECK(worker.reserve());
    worker.unreserve();
  }
  {
    // A new delivery: leased to the slot, which stays reserved until it is handed on.
    detail::Handoff handoff(worker);
    CHECK(handoff.claim(*store, entry_for("new"), 1h, 1min));
    CHECK_FALSE(worker.reserve());
    handoff.hand_on();
    REQUIRE(wait_until("the entry done", [&] { return in_state(*store, QueueState::done) == 1; }));
  }
  CHECK(target->attempts() == std::vector<std::string>{"new#1"});
  REQUIRE(wait_until("the slot back", [&] { return worker.reserve(); }));
  worker.unreserve();
}

TEST_CASE("stopping, reserve refuses, and an entry handed late goes back to the store, due") {
  const std::shared_ptr<Store> store = open_store("memory:");
  const auto target = std::make_shared<ScriptedTarget>();
  Worker worker({.store = store, .target = target, .lease = 1min, .drain = 5s});
  std::thread thread([&] { worker.run(); });
  REQUIRE(wait_until("a slot", [&] { return worker.reserve(); }));
  QueueEntry entry = entry_for("late");
  const ClaimedLease claimed = store->claim_and_lease(entry, 1h, start + 1min);
  REQUIRE(claimed.token);
  worker.stop();
  CHECK_FALSE(worker.reserve());
  // run() drains the reserved slot too: it returns once the entry is handed in.
  const auto stopping = std::chrono::steady_clock::now();
  worker.hand({entry, *claimed.token});
  thread.join();
  CHECK(std::chrono::steady_clock::now() - stopping < 4s);
  CHECK(target->attempts().empty());
  // Not attempted, and not left to its lease: due at once, its attempt not counted.
  const auto found = store->find("late");
  REQUIRE(found);
  CHECK(found->attempts == 0);
  CHECK_FALSE(store->finish("late", *claimed.token, AttemptRecord{QueueState::done}));
  const auto taken = store->take(start, 1min, 10);
  REQUIRE(taken.size() == 1);
  CHECK(taken[0].entry.attempts == 1);
}

TEST_CASE("a worker needs a store with a queue, a target and positive settings") {
  const auto target = std::make_shared<ScriptedTarget>();
  CHECK_THROWS_AS(Worker({.target = target}), std::invalid_argument);
  CHECK_THROWS_AS(Worker({.store = open_store("memory:")}), std::invalid_argument);
  CHECK_THROWS_AS(Worker({.store = open_store("memory:"), .target = target, .concurrency = 0}),
                  std::invalid_argument);
}
