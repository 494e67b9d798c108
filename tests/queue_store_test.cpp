// The delivery queue of the stores (DESIGN.md, "Handing deliveries on"): one behaviour suite
// that every store with a queue passes (memory, SQLite and Redis), then what only the memory
// store (its bound) and only the SQLite store (a file, processes, crashes) promise. Time is
// passed in, never slept through.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/files.h"
#include "support/redis.h"
#include "support/wait.h"
#include "tykhook/error.h"
#include "tykhook/queue.h"
#include "tykhook/store.h"

namespace {

using namespace std::chrono_literals;
using tykhook::AttemptRecord;
using tykhook::LeasedEntry;
using tykhook::open_store;
using tykhook::QueueEntry;
using tykhook::QueueState;
using tykhook::Store;
using tykhook::StoreOptions;
using tykhook::TimePoint;
using tykhook::test::redis_test_uri;
using tykhook::test::TempDir;
using tykhook::test::wait_until;
using tykhook::test::whole_lines;

constexpr auto long_ttl = std::chrono::milliseconds(10min);
constexpr auto lease = std::chrono::milliseconds(30s);
// A wall-clock time of the suite's own: the queue's times are whatever the caller passes.
const TimePoint t0 = TimePoint(std::chrono::seconds(1'780'000'000)) + 123'456'789ns;

// Where the suite keeps its SQLite files: in memory (/dev/shm) when there is one, as the claim
// suite does; the SIGKILL test, which is about durability, uses the real disk.
std::filesystem::path fast_directory() {
  std::error_code ignored;
  if (std::filesystem::is_directory("/dev/shm", ignored) && access("/dev/shm", W_OK) == 0) {
    return "/dev/shm";
  }
  return std::filesystem::temp_directory_path();
}

// A store kind under test. `open` opens it; for a kind whose entries outlive the Store object
// (`persistent`), each call opens the same queue again.
struct QueueStoreKind {
  std::string name;
  bool persistent;
  std::function<std::unique_ptr<Store>()> open;
};

// Every store with a queue, each in a fresh place: a new file, or a new Redis key prefix. Redis
// joins when TYKHOOK_TEST_REDIS_URI names a server (see support/redis.h).
std::vector<QueueStoreKind> queue_store_kinds(const TempDir& dir) {
  static std::atomic<int> counter{0};
  const std::string sqlite_uri = "sqlite:" + dir.file("queue-" + std::to_string(++counter) + ".db");
  std::vector<QueueStoreKind> kinds = {
      {"memory", false, [] { return open_store("memory:"); }},
      {"sqlite", true, [sqlite_uri] { return open_store(sqlite_uri); }},
  };
  if (const auto redis_uri = redis_test_uri()) {
    kinds.push_back({"redis", true, [uri = *redis_uri] { return open_store(uri); }});
  }
  return kinds;
}

// A delivery as the receiver queues it: bytes that a text encoding would not keep (a NUL, 0xff),
// headers in their own order and case, one of them twice.
QueueEntry delivery(std::string key, TimePoint received) {
  QueueEntry entry;
  entry.key = std::move(key);
  entry.event = "api_key.created";
  entry.request.method = "PUT";
  entry.request.target = "/hooks/tyk?source=portal&x=%00";
  entry.request.headers = {{"Content-Type", "application/json"},
                           {"X-Signature-SHA256", "abc123"},
                           {"x-lower-case", std::string("v\xff\x01", 3)},
                           {"X-Twice", "1"},
                           {"X-Twice", ""}};
  static constexpr char bytes[] = "{\"a\":\"\0\xff\xfe\"}\n";  // a NUL and bytes not UTF-8
  entry.request.body = std::string(bytes, sizeof bytes - 1) + entry.key;
  entry.received = received;
  return entry;
}

std::vector<std::string> keys_of(const std::vector<QueueEntry>& entries) {
  std::vector<std::string> keys;
  for (const auto& entry : entries) keys.push_back(entry.key);
  return keys;
}

std::vector<QueueEntry> entries_of(const std::vector<LeasedEntry>& leased) {
  std::vector<QueueEntry> entries;
  for (const auto& each : leased) entries.push_back(each.entry);
  return entries;
}

void check_same_request(const QueueEntry& got, const QueueEntry& sent) {
  CHECK(got.key == sent.key);
  CHECK(got.event == sent.event);
  CHECK(got.request.method == sent.request.method);
  CHECK(got.request.target == sent.request.target);
  REQUIRE(got.request.headers.size() == sent.request.headers.size());
  for (std::size_t i = 0; i < sent.request.headers.size(); ++i) {
    CAPTURE(i);
    CHECK(got.request.headers[i].name == sent.request.headers[i].name);
    CHECK(got.request.headers[i].value == sent.request.headers[i].value);
  }
  CHECK(got.request.body == sent.request.body);
  CHECK(got.received == sent.received);
}

const AttemptRecord done{QueueState::done, std::nullopt, std::nullopt};

AttemptRecord retrying_at(TimePoint next, std::string error) {
  return {QueueState::retrying, next, std::move(error)};
}

AttemptRecord dead(std::string error) { return {QueueState::dead, std::nullopt, std::move(error)}; }

// Runs `body` once per store kind, each in a subcase of its name.
template <class Body>
void for_each_store(Body&& body) {
  const TempDir dir(fast_directory());
  for (const auto& kind : queue_store_kinds(dir)) {
    SUBCASE(kind.name.c_str()) { body(kind); }
  }
}

// ---- the behaviour suite: every store with a queue ---------------------------------------------

TEST_CASE("an entry queued with its claim is taken back as the exact request received") {
  for_each_store([](const QueueStoreKind& kind) {
    const auto store = kind.open();
    CHECK(store->has_queue());
    const auto sent = delivery("k1", t0);
    REQUIRE(store->claim_and_enqueue(sent, long_ttl));
    const auto taken = store->take(t0, lease, 10);
    REQUIRE(taken.size() == 1);
    check_same_request(taken[0].entry, sent);
    CHECK(taken[0].entry.state == QueueState::pending);
    CHECK(taken[0].entry.attempts == 1);
    CHECK(taken[0].entry.next_attempt == t0);
    CHECK_FALSE(taken[0].entry.last_error.has_value());
    CHECK_FALSE(taken[0].entry.retried.has_value());
    // The claim was made too.
    CHECK_FALSE(store->claim("k1", long_ttl));
  });
}

TEST_CASE("a duplicate claim_and_enqueue queues nothing") {
  for_each_store([](const QueueStoreKind& kind) {
    const auto store = kind.open();
    REQUIRE(store->claim_and_enqueue(delivery("k1", t0), long_ttl));
    auto again = delivery("k1", t0 + 1s);
    again.request.body = "another body";
    CHECK_FALSE(store->claim_and_enqueue(again, long_ttl));
    // A key claimed alone, without an entry, is a duplicate as well.
    REQUIRE(store->claim("k2", long_ttl));
    CHECK_FALSE(store->claim_and_enqueue(delivery("k2", t0), long_ttl));
    const auto counts = store->counts();
    CHECK(counts.pending == 1);
    const auto found = store->find("k1");
    REQUIRE(found);
    check_same_request(*found, delivery("k1", t0));
    CHECK_FALSE(store->find("k2"));
    CHECK(store->take(t0 + 1h, lease, 10).size() == 1);
  });
}

TEST_CASE("take returns an entry once it is due, and not again while its lease runs") {
  for_each_store([](const QueueStoreKind& kind) {
    const auto store = kind.open();
    REQUIRE(store->claim_and_enqueue(delivery("k1", t0), long_ttl));
    CHECK(store->take(t0 - 1ns, lease, 10).empty());
    const auto first = store->take(t0, lease, 10);
    REQUIRE(first.size() == 1);
    CHECK(store->take(t0, lease, 10).empty());
    CHECK(store->take(t0 + lease - 1ns, lease, 10).empty());
    CHECK(store->next_due() == t0 + lease);
    // The lease ran out (a worker died): another take gets it, as a second attempt.
    const auto second = store->take(t0 + lease, lease, 10);
    REQUIRE(second.size() == 1);
    CHECK(second[0].entry.attempts == 2);
    CHECK(second[0].token != first[0].token);
  });
}

TEST_CASE("take takes at most max entries, oldest due first") {
  for_each_store([](const QueueStoreKind& kind) {
    const auto store = kind.open();
    for (const int i : {3, 1, 4, 0, 2}) {
      REQUIRE(store->claim_and_enqueue(delivery("k" + std::to_string(i), t0 + i * 1s), long_ttl));
    }
    const auto taken = store->take(t0 + 10s, lease, 2);
    REQUIRE(taken.size() == 2);
    CHECK(taken[0].entry.key == "k0");
    CHECK(taken[1].entry.key == "k1");
    CHECK(store->take(t0 + 10s, lease, 0).empty());
    CHECK(store->take(t0 + 10s, lease, 10).size() == 3);
  });
}

TEST_CASE("take orders pending and retrying entries together, oldest due first") {
  for_each_store([](const QueueStoreKind& kind) {
    const auto store = kind.open();
    REQUIRE(store->claim_and_enqueue(delivery("r21", t0), long_ttl));
    REQUIRE(store->claim_and_enqueue(delivery("r23", t0 + 1s), long_ttl));
    for (const auto& leased : store->take(t0 + 1s, lease, 2)) {
      const auto next = leased.entry.key == "r21" ? t0 + 21s : t0 + 23s;
      REQUIRE(store->finish(leased.entry.key, leased.token, retrying_at(next, "503")));
    }
    REQUIRE(store->claim_and_enqueue(delivery("p20", t0 + 20s), long_ttl));
    REQUIRE(store->claim_and_enqueue(delivery("p22", t0 + 22s), long_ttl));
    const auto taken = store->take(t0 + 30s, lease, 3);
    CHECK(keys_of(entries_of(taken)) == std::vector<std::string>{"p20", "r21", "p22"});
    for (const auto& leased : taken) {
      CHECK(leased.entry.attempts == (leased.entry.key == "r21" ? 2U : 1U));
    }
    const auto rest = store->take(t0 + 30s, lease, 10);
    CHECK(keys_of(entries_of(rest)) == std::vector<std::string>{"r23"});
  });
}

TEST_CASE("claim_and_lease leases the new entry to its producer, or leaves it to a take") {
  for_each_store([](const QueueStoreKind& kind) {
    const auto store = kind.open();
    // Redis Streams hand entries out through take alone: that store leases nothing here.
    const bool leases = kind.name != "redis";
    const auto claimed = store->claim_and_lease(delivery("k1", t0), long_ttl, t0 + lease);
    CHECK(claimed.won);
    CHECK(claimed.token.has_value() == leases);
    const auto again = store->claim_and_lease(delivery("k1", t0 + 1s), long_ttl, t0 + 1s + lease);
    CHECK_FALSE(again.won);
    CHECK_FALSE(again.token);
    auto entry = store->find("k1");
    REQUIRE(entry);
    CHECK(entry->state == QueueState::pending);
    CHECK(entry->received == t0);
    if (!leases) {
      CHECK(entry->attempts == 0);
      CHECK(keys_of(entries_of(store->take(t0, lease, 10))) == std::vector<std::string>{"k1"});
      return;
    }
    CHECK(entry->attempts == 1);  // the producer's attempt counts
    // No take returns it while the lease runs, and the producer's token records the attempt.
    CHECK(store->take(t0 + lease - 1ms, lease, 10).empty());
    CHECK(store->next_due() == t0 + lease);
    CHECK(store->finish("k1", *claimed.token, done));
    entry = store->find("k1");
    REQUIRE(entry);
    CHECK(entry->state == QueueState::done);
    CHECK(entry->attempts == 1);

    // A lease that is never finished runs out, as any other: a take then attempts the entry
    // again, and the producer's token no longer holds it.
    const auto lost = store->claim_and_lease(delivery("k2", t0), long_ttl, t0 + lease);
    REQUIRE(lost.token);
    const auto retaken = store->take(t0 + lease, lease, 10);
    REQUIRE(retaken.size() == 1);
    CHECK(retaken.at(0).entry.key == "k2");
    CHECK(retaken.at(0).entry.attempts == 2);
    CHECK(retaken.at(0).token != *lost.token);
    CHECK_FALSE(store->finish("k2", *lost.token, done));
    CHECK(store->finish("k2", retaken.at(0).token, done));
  });
}

TEST_CASE("claim_and_lease leases nothing when an entry of the key waits already") {
  for_each_store([](const QueueStoreKind& kind) {
    const auto store = kind.open();
    // The claim expires while its entry still waits: a new claim wins, and the waiting entry
    // stays as it is, not leased to the new claim's producer.
    REQUIRE(store->claim_and_enqueue(delivery("k1", t0), 1ms));
    tykhook::ClaimedLease claimed;
    wait_until("the claim to expire", [&] {
      claimed = store->claim_and_lease(delivery("k1", t0 + 5s), long_ttl, t0 + 5s + lease);
      return claimed.won;
    });
    CHECK_FALSE(claimed.token);
    const auto entry = store->find("k1");
    REQUIRE(entry);
    CHECK(entry->state == QueueState::pending);
    CHECK(entry->received == t0);
    CHECK(entry->attempts == 0);
    CHECK(keys_of(entries_of(store->take(t0, lease, 10))) == std::vector<std::string>{"k1"});
  });
}

TEST_CASE("a claim that expired with its entry done queues the delivery afresh, once") {
  for_each_store([](const QueueStoreKind& kind) {
    const auto store = kind.open();
    REQUIRE(store->claim_and_enqueue(delivery("k1", t0), 1ms));
    const auto taken = store->take(t0, lease, 1);
    REQUIRE(taken.size() == 1);
    REQUIRE(store->finish("k1", taken[0].token, dead("410")));
    // Won again as soon as the claim expires, before a sweep has deleted the dead entry.
    tykhook::ClaimedLease claimed;
    wait_until("the claim to expire", [&] {
      claimed = store->claim_and_lease(delivery("k1", t0 + 1h), long_ttl, t0 + 1h + lease);
      return claimed.won;
    });
    const auto entry = store->find("k1");
    REQUIRE(entry);
    CHECK(entry->received == t0 + 1h);
    CHECK(entry->state == QueueState::pending);
    CHECK_FALSE(entry->last_error);
    const auto counts = store->counts();
    CHECK(counts.pending == 1);
    CHECK(counts.dead == 0);
    CHECK(store->list(std::nullopt, 10).size() == 1);
    if (claimed.token) {
      CHECK(entry->attempts == 1);
      CHECK(store->finish("k1", *claimed.token, done));
    } else {
      CHECK(entry->attempts == 0);
    }
    CHECK_FALSE(store->claim_and_enqueue(delivery("k1", t0 + 2h), long_ttl));
  });
}

TEST_CASE("a released claim is won again; an entry of its key that waits stays, and finishes") {
  for_each_store([](const QueueStoreKind& kind) {
    const auto store = kind.open();
    REQUIRE(store->claim_and_enqueue(delivery("k1", t0), long_ttl));
    REQUIRE(store->claim("plain", long_ttl));
    store->release("plain");
    CHECK(store->claim("plain", long_ttl));
    store->release("k1");
    const auto claimed = store->claim_and_lease(delivery("k1", t0 + 5s), long_ttl, t0 + 5s + lease);
    CHECK(claimed.won);
    CHECK_FALSE(claimed.token);
    CHECK(store->counts().pending == 1);
    const auto taken = store->take(t0, lease, 10);
    REQUIRE(taken.size() == 1);
    CHECK(taken[0].entry.received == t0);
    CHECK(store->finish("k1", taken[0].token, done));
    const auto entry = store->find("k1");
    REQUIRE(entry);
    CHECK(entry->state == QueueState::done);
    CHECK_FALSE(store->claim_and_enqueue(delivery("k1", t0 + 6s), long_ttl));
  });
}

TEST_CASE("give_back ends a lease with no attempt: due at once, the attempt not counted") {
  for_each_store([](const QueueStoreKind& kind) {
    const auto store = kind.open();
    // Redis: its workers attempt every entry they take, and it never leases on claim.
    const bool gives_back = kind.name != "redis";
    REQUIRE(store->claim_and_enqueue(delivery("k1", t0), long_ttl));
    const auto taken = store->take(t0, lease, 1);
    REQUIRE(taken.size() == 1);
    CHECK_FALSE(store->give_back("k1", taken[0].token + 1));
    CHECK_FALSE(store->give_back("k2", taken[0].token));
    CHECK(store->give_back("k1", taken[0].token) == gives_back);
    if (!gives_back) {
      CHECK(store->take(t0, lease, 1).empty());
      return;
    }
    auto entry = store->find("k1");
    REQUIRE(entry);
    CHECK(entry->state == QueueState::pending);
    CHECK(entry->attempts == 0);
    CHECK(store->next_due() == t0);
    CHECK_FALSE(store->give_back("k1", taken[0].token));  // once only
    CHECK_FALSE(store->finish("k1", taken[0].token, done));
    const auto again = store->take(t0, lease, 1);
    REQUIRE(again.size() == 1);
    CHECK(again[0].entry.attempts == 1);

    // A lease from the claim too; a retrying entry keeps its count of earlier attempts.
    const auto claimed = store->claim_and_lease(delivery("k3", t0), long_ttl, t0 + lease);
    REQUIRE(claimed.token);
    CHECK(store->give_back("k3", *claimed.token));
    CHECK(store->find("k3")->attempts == 0);
    REQUIRE(store->finish("k1", again[0].token, retrying_at(t0 + 1min, "503")));
    const auto third = store->take(t0 + 1min, lease, 10);
    REQUIRE(third.size() == 2);
    for (const auto& each : third) CHECK(store->give_back(each.entry.key, each.token));
    entry = store->find("k1");
    REQUIRE(entry);
    CHECK(entry->state == QueueState::retrying);
    CHECK(entry->attempts == 1);
    CHECK(entry->last_error == "503");
  });
}

TEST_CASE("a finish with a token that no longer holds the entry changes nothing") {
  for_each_store([](const QueueStoreKind& kind) {
    const auto store = kind.open();
    REQUIRE(store->claim_and_enqueue(delivery("k1", t0), long_ttl));
    const auto stale = store->take(t0, lease, 1).at(0).token;
    const auto current = store->take(t0 + lease, lease, 1).at(0).token;
    CHECK_FALSE(store->finish("k1", stale, done));
    CHECK_FALSE(store->finish("k1", stale, dead("late")));
    auto entry = store->find("k1");
    REQUIRE(entry);
    CHECK(entry->state == QueueState::pending);
    CHECK(entry->attempts == 2);
    CHECK_FALSE(store->finish("no-such-key", current, done));
    CHECK(store->finish("k1", current, done));
    // Finished once: the token holds it no more.
    CHECK_FALSE(store->finish("k1", current, dead("twice")));
    entry = store->find("k1");
    REQUIRE(entry);
    CHECK(entry->state == QueueState::done);
  });
}

TEST_CASE("an attempt ends done, retrying or dead, and the counts follow") {
  for_each_store([](const QueueStoreKind& kind) {
    const auto store = kind.open();
    for (const int i : {0, 1, 2, 3}) {
      REQUIRE(store->claim_and_enqueue(delivery("k" + std::to_string(i), t0 + i * 1s), long_ttl));
    }
    auto counts = store->counts();
    CHECK(counts.pending == 4);
    CHECK(counts.oldest_waiting == t0);
    const auto taken = store->take(t0 + 2s, lease, 10);
    REQUIRE(taken.size() == 3);
    CHECK(store->finish("k0", taken[0].token, done));
    CHECK(store->finish("k1", taken[1].token, retrying_at(t0 + 1min, "503 from the target")));
    CHECK(store->finish("k2", taken[2].token, dead("400 from the target")));
    counts = store->counts();
    CHECK(counts.pending == 1);
    CHECK(counts.retrying == 1);
    CHECK(counts.done == 1);
    CHECK(counts.dead == 1);
    CHECK(counts.oldest_waiting == t0 + 1s);
    // Stream lengths are the Redis queue's alone: nothing in flight, the dead one's letter.
    if (kind.name == "redis") {
      CHECK(counts.ready_stream_length == 0u);
      CHECK(counts.dead_letter_stream_length == 1u);
    } else {
      CHECK_FALSE(counts.ready_stream_length.has_value());
      CHECK_FALSE(counts.dead_letter_stream_length.has_value());
    }

    const auto k0 = store->find("k0");
    REQUIRE(k0);
    CHECK(k0->state == QueueState::done);
    CHECK(k0->attempts == 1);
    CHECK_FALSE(k0->next_attempt.has_value());
    CHECK_FALSE(k0->last_error.has_value());
    const auto k1 = store->find("k1");
    REQUIRE(k1);
    CHECK(k1->state == QueueState::retrying);
    CHECK(k1->next_attempt == t0 + 1min);
    CHECK(k1->last_error == "503 from the target");
    const auto k2 = store->find("k2");
    REQUIRE(k2);
    CHECK(k2->state == QueueState::dead);
    CHECK_FALSE(k2->next_attempt.has_value());
    CHECK(k2->last_error == "400 from the target");

    // The retrying one falls due at its next attempt, not before.
    const auto due = store->take(t0 + 1min - 1ns, lease, 10);
    REQUIRE(due.size() == 1);
    CHECK(due[0].entry.key == "k3");
    const auto again = store->take(t0 + 1min, lease, 10);
    REQUIRE(again.size() == 1);
    CHECK(again[0].entry.key == "k1");
    CHECK(again[0].entry.attempts == 2);
    CHECK(again[0].entry.state == QueueState::retrying);
  });
}

TEST_CASE("a finish that records nothing sensible is a programming error") {
  for_each_store([](const QueueStoreKind& kind) {
    const auto store = kind.open();
    REQUIRE(store->claim_and_enqueue(delivery("k1", t0), long_ttl));
    const auto token = store->take(t0, lease, 1).at(0).token;
    CHECK_THROWS_AS(store->finish("k1", token, {QueueState::pending, t0, std::nullopt}),
                    std::invalid_argument);
    CHECK_THROWS_AS(store->finish("k1", token, {QueueState::retrying, std::nullopt, "x"}),
                    std::invalid_argument);
    CHECK(store->finish("k1", token, done));
  });
}

TEST_CASE("list shows the entries of a state, newest received first, at most limit") {
  for_each_store([](const QueueStoreKind& kind) {
    const auto store = kind.open();
    for (const int i : {2, 0, 4, 1, 3}) {
      REQUIRE(store->claim_and_enqueue(delivery("k" + std::to_string(i), t0 + i * 1s), long_ttl));
    }
    for (const auto& taken : store->take(t0 + 3s, lease, 10)) {
      if (taken.entry.key == "k1" || taken.entry.key == "k3") {
        CHECK(store->finish(taken.entry.key, taken.token, done));
      }
    }
    using Keys = std::vector<std::string>;
    CHECK(keys_of(store->list(std::nullopt, 10)) == Keys{"k4", "k3", "k2", "k1", "k0"});
    CHECK(keys_of(store->list(std::nullopt, 2)) == Keys{"k4", "k3"});
    CHECK(keys_of(store->list(QueueState::done, 10)) == Keys{"k3", "k1"});
    CHECK(keys_of(store->list(QueueState::pending, 10)) == Keys{"k4", "k2", "k0"});
    CHECK(keys_of(store->list(QueueState::pending, 1)) == Keys{"k4"});
    CHECK(store->list(QueueState::dead, 10).empty());
    CHECK(store->list(std::nullopt, 0).empty());
    const auto listed = store->list(QueueState::done, 1);
    REQUIRE(listed.size() == 1);
    check_same_request(listed[0], delivery("k3", t0 + 3s));
  });
}

TEST_CASE("list shows dead entries newest received first, whatever order they died in") {
  for_each_store([](const QueueStoreKind& kind) {
    const auto store = kind.open();
    for (const int i : {0, 1, 2, 3}) {
      REQUIRE(store->claim_and_enqueue(delivery("k" + std::to_string(i), t0 + i * 1s), long_ttl));
    }
    const auto taken = store->take(t0 + 3s, lease, 10);
    REQUIRE(taken.size() == 4);
    for (const std::string key : {"k2", "k0", "k3", "k1"}) {
      for (const auto& each : taken) {
        if (each.entry.key == key) REQUIRE(store->finish(key, each.token, dead("410")));
      }
    }
    using Keys = std::vector<std::string>;
    CHECK(keys_of(store->list(QueueState::dead, 10)) == Keys{"k3", "k2", "k1", "k0"});
    CHECK(keys_of(store->list(QueueState::dead, 2)) == Keys{"k3", "k2"});
    CHECK(keys_of(store->list(QueueState::dead, 1)) == Keys{"k3"});
    const auto listed = store->list(QueueState::dead, 1);
    REQUIRE(listed.size() == 1);
    check_same_request(listed[0], delivery("k3", t0 + 3s));
    CHECK(listed[0].last_error == "410");
  });
}

TEST_CASE("find returns the entry of a key, and nothing for a key not queued") {
  for_each_store([](const QueueStoreKind& kind) {
    const auto store = kind.open();
    CHECK_FALSE(store->find("k1"));
    REQUIRE(store->claim_and_enqueue(delivery("k1", t0), long_ttl));
    const auto found = store->find("k1");
    REQUIRE(found);
    check_same_request(*found, delivery("k1", t0));
    CHECK(found->state == QueueState::pending);
    CHECK(found->attempts == 0);
    CHECK(found->next_attempt == t0);
    CHECK_FALSE(store->find("k"));
  });
}

TEST_CASE("retry sends a dead entry back: pending, due now, attempts from 0") {
  for_each_store([](const QueueStoreKind& kind) {
    const auto store = kind.open();
    REQUIRE(store->claim_and_enqueue(delivery("k1", t0), long_ttl));
    const auto token = store->take(t0, lease, 1).at(0).token;
    REQUIRE(store->finish("k1", token, dead("410 from the target")));
    const auto later = t0 + 5h;
    CHECK(store->retry("k1", later));
    const auto entry = store->find("k1");
    REQUIRE(entry);
    CHECK(entry->state == QueueState::pending);
    CHECK(entry->attempts == 0);
    CHECK(entry->next_attempt == later);
    CHECK(entry->retried == later);
    CHECK(store->counts().dead == 0);
    CHECK(store->take(later - 1ns, lease, 1).empty());
    const auto taken = store->take(later, lease, 1);
    REQUIRE(taken.size() == 1);
    CHECK(taken[0].entry.attempts == 1);
    CHECK_FALSE(store->retry("no-such-key", later));
  });
}

TEST_CASE("retry of an entry in flight takes it from the attempt that holds it") {
  for_each_store([](const QueueStoreKind& kind) {
    const auto store = kind.open();
    REQUIRE(store->claim_and_enqueue(delivery("k1", t0), long_ttl));
    const auto token = store->take(t0, lease, 1).at(0).token;
    CHECK(store->retry("k1", t0 + 1s));
    CHECK_FALSE(store->finish("k1", token, done));
    // Due at once, although the old lease would still run.
    CHECK(store->take(t0 + 1s, lease, 1).size() == 1);
  });
}

TEST_CASE("drop removes an entry from the queue and keeps its claim") {
  for_each_store([](const QueueStoreKind& kind) {
    const auto store = kind.open();
    REQUIRE(store->claim_and_enqueue(delivery("k1", t0), long_ttl));
    REQUIRE(store->claim_and_enqueue(delivery("k2", t0), long_ttl));
    CHECK(store->drop("k1"));
    CHECK_FALSE(store->find("k1"));
    CHECK_FALSE(store->drop("k1"));
    CHECK(store->counts().pending == 1);
    CHECK(keys_of(store->list(std::nullopt, 10)) == std::vector<std::string>{"k2"});
    const auto taken = store->take(t0, lease, 10);
    REQUIRE(taken.size() == 1);
    CHECK(taken[0].entry.key == "k2");
    CHECK_FALSE(store->claim("k1", long_ttl));
    CHECK_FALSE(store->claim_and_enqueue(delivery("k1", t0), long_ttl));
  });
}

TEST_CASE("next_due is the earliest next attempt or end of a lease; nullopt when none waits") {
  for_each_store([](const QueueStoreKind& kind) {
    const auto store = kind.open();
    CHECK_FALSE(store->next_due());
    REQUIRE(store->claim_and_enqueue(delivery("k1", t0 + 10s), long_ttl));
    REQUIRE(store->claim_and_enqueue(delivery("k2", t0 + 20s), long_ttl));
    CHECK(store->next_due() == t0 + 10s);
    const auto first = store->take(t0 + 10s, 5s, 1);
    REQUIRE(first.size() == 1);
    CHECK(store->next_due() == t0 + 15s);  // the lease ends before k2 is due
    REQUIRE(store->finish("k1", first[0].token, retrying_at(t0 + 1h, "timeout")));
    CHECK(store->next_due() == t0 + 20s);
    const auto second = store->take(t0 + 20s, 5s, 1);
    REQUIRE(second.size() == 1);
    REQUIRE(store->finish("k2", second[0].token, done));
    CHECK(store->next_due() == t0 + 1h);
    const auto third = store->take(t0 + 1h, 5s, 1);
    REQUIRE(third.size() == 1);
    REQUIRE(store->finish("k1", third[0].token, dead("gave up")));
    CHECK_FALSE(store->next_due());
  });
}

TEST_CASE("oldest_waiting is the oldest pending or retrying entry's arrival") {
  for_each_store([](const QueueStoreKind& kind) {
    const auto store = kind.open();
    CHECK_FALSE(store->counts().oldest_waiting);
    REQUIRE(store->claim_and_enqueue(delivery("k1", t0 + 1s), long_ttl));
    REQUIRE(store->claim_and_enqueue(delivery("k2", t0 + 2s), long_ttl));
    CHECK(store->counts().oldest_waiting == t0 + 1s);
    const auto taken = store->take(t0 + 2s, lease, 2);
    REQUIRE(taken.size() == 2);
    REQUIRE(store->finish("k1", taken[0].token, done));
    CHECK(store->counts().oldest_waiting == t0 + 2s);
    REQUIRE(store->finish("k2", taken[1].token, retrying_at(t0 + 1h, "again")));
    CHECK(store->counts().oldest_waiting == t0 + 2s);
    CHECK(store->drop("k2"));
    CHECK_FALSE(store->counts().oldest_waiting);
  });
}

TEST_CASE("done and dead entries go when their claim expires; waiting ones stay") {
  for_each_store([](const QueueStoreKind& kind) {
    auto store = kind.open();
    REQUIRE(store->claim_and_enqueue(delivery("done", t0), 1ms));
    REQUIRE(store->claim_and_enqueue(delivery("dead", t0), 1ms));
    REQUIRE(store->claim_and_enqueue(delivery("waiting", t0), 1ms));
    const auto taken = store->take(t0, lease, 3);
    REQUIRE(taken.size() == 3);
    for (const auto& each : taken) {
      if (each.entry.key == "done") REQUIRE(store->finish("done", each.token, done));
      if (each.entry.key == "dead") REQUIRE(store->finish("dead", each.token, dead("410")));
    }
    // A SQLite store sweeps at the first claim after it opens, then at intervals: open it
    // again until the claims have expired and a claim has swept them.
    int tries = 0;
    wait_until("the done and dead entries to go", [&] {
      if (kind.persistent) store = kind.open();
      (void)store->claim("sweeper-" + std::to_string(++tries), long_ttl);
      return !store->find("done") && !store->find("dead");
    });
    const auto waiting = store->find("waiting");
    REQUIRE(waiting);
    CHECK(waiting->state == QueueState::pending);
    const auto counts = store->counts();
    CHECK(counts.pending == 1);
    CHECK(counts.done == 0);
    CHECK(counts.dead == 0);
    // The expired claim of a done entry can be won again, and queues the delivery afresh.
    REQUIRE(store->claim_and_enqueue(delivery("done", t0 + 1h), long_ttl));
    const auto again = store->find("done");
    REQUIRE(again);
    CHECK(again->state == QueueState::pending);
    CHECK(again->attempts == 0);
    CHECK(again->received == t0 + 1h);
  });
}

TEST_CASE("8 threads enqueueing the same 500 deliveries at once queue each exactly once") {
  for_each_store([](const QueueStoreKind& kind) {
    constexpr int thread_count = 8;
    constexpr int key_count = 500;
    const auto store = kind.open();
    std::atomic<int> won{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < thread_count; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < key_count; ++i) {
          // Each thread goes through the keys from its own place, so that they collide.
          const int k = (i + t * key_count / thread_count) % key_count;
          if (store->claim_and_enqueue(delivery("k" + std::to_string(k), t0 + k * 1ms), long_ttl)) {
            ++won;
          }
        }
      });
    }
    for (auto& thread : threads) thread.join();
    CHECK(won.load() == key_count);
    CHECK(store->counts().pending == key_count);
    const auto taken = store->take(t0 + 1h, lease, 2 * key_count);
    CHECK(taken.size() == key_count);
    std::set<std::string> keys;
    for (const auto& each : taken) {
      keys.insert(each.entry.key);
      CHECK(each.entry.request.body == delivery(each.entry.key, t0).request.body);
    }
    CHECK(keys.size() == key_count);
  });
}

// ---- the memory store: bounded ------------------------------------------------------------------

TEST_CASE("a full memory queue refuses a delivery, claims nothing, and never evicts one waiting") {
  const auto store = open_store("memory:", StoreOptions{.memory_max_keys = 3});
  for (const int i : {0, 1, 2}) {
    REQUIRE(store->claim_and_enqueue(delivery("k" + std::to_string(i), t0 + i * 1s), long_ttl));
  }
  try {
    (void)store->claim_and_enqueue(delivery("k3", t0 + 3s), long_ttl);
    FAIL("a fourth waiting entry was queued");
  } catch (const tykhook::Error& e) {
    const std::string message = e.what();
    CHECK(message.find("queue full") != std::string::npos);
    CHECK(message.find("503") != std::string::npos);
  }
  CHECK_FALSE(store->find("k3"));
  CHECK(store->counts().pending == 3);
  // A duplicate is still told apart from a new delivery when the queue is full.
  CHECK_FALSE(store->claim_and_enqueue(delivery("k0", t0), long_ttl));
  // Once one is done, it makes room: the oldest done entry goes, the waiting ones stay.
  const auto taken = store->take(t0, lease, 1);
  REQUIRE(taken.size() == 1);
  REQUIRE(store->finish("k0", taken[0].token, done));
  REQUIRE(store->claim_and_enqueue(delivery("k3", t0 + 3s), long_ttl));
  CHECK_FALSE(store->find("k0"));
  for (const auto* key : {"k1", "k2", "k3"}) {
    CAPTURE(key);
    CHECK(store->find(key));
  }
  CHECK_THROWS_AS((void)store->claim_and_enqueue(delivery("k4", t0), long_ttl), tykhook::Error);
  // The refused delivery was not claimed: once there is room it is queued.
  REQUIRE(store->drop("k1"));
  CHECK(store->claim_and_enqueue(delivery("k4", t0), long_ttl));
}

// ---- SQLite: a file that processes share, and that outlives them --------------------------------

TEST_CASE("a sqlite queue entry survives closing and opening the file again") {
  const TempDir dir;
  const std::string uri = "sqlite:" + dir.file("reopen.db");
  REQUIRE(open_store(uri)->claim_and_enqueue(delivery("k1", t0), long_ttl));
  {
    const auto store = open_store(uri);
    const auto taken = store->take(t0, lease, 1);
    REQUIRE(taken.size() == 1);
    REQUIRE(store->finish("k1", taken[0].token, retrying_at(t0 + 1min, "connection refused")));
  }
  const auto store = open_store(uri);
  const auto entry = store->find("k1");
  REQUIRE(entry);
  check_same_request(*entry, delivery("k1", t0));
  CHECK(entry->state == QueueState::retrying);
  CHECK(entry->attempts == 1);
  CHECK(entry->next_attempt == t0 + 1min);
  CHECK(entry->last_error == "connection refused");
}

// Forks a child that runs `body` and exits with its result (2 when it throws); never returns in
// the child. The test process has no other thread when it forks.
template <class Body>
pid_t fork_child(Body&& body) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int status = 2;
    try {
      status = body();
    } catch (...) {
    }
    _exit(status);
  }
  return pid;
}

int wait_status(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Writes `line` and a newline to `fd` with one write, so that a kill leaves only whole lines.
// For a forked child: it throws rather than report through the test framework.
void report(int fd, const std::string& line) {
  const std::string text = line + "\n";
  if (write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    throw std::runtime_error("cannot write");
  }
}

TEST_CASE("every entry that a process reported queued survives a SIGKILL of the process") {
  const TempDir dir;
  const std::string uri = "sqlite:" + dir.file("killed.db");
  const std::string out = dir.file("out");
  const pid_t pid = fork_child([&] {
    const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    const auto store = open_store(uri);
    for (int i = 0;; ++i) {
      const std::string key = "k" + std::to_string(i);
      if (store->claim_and_enqueue(delivery(key, t0 + i * 1ns), long_ttl)) report(fd, key);
    }
    return 0;
  });
  wait_until("the child to report 100 entries", [&] { return whole_lines(out).size() >= 100; });
  kill(pid, SIGKILL);
  CHECK(wait_status(pid) == -1);
  const auto reported = whole_lines(out);
  REQUIRE(reported.size() >= 100);
  const auto store = open_store(uri);
  int lost = 0;
  for (std::size_t i = 0; i < reported.size(); ++i) {
    const auto entry = store->find(reported[i]);
    if (!entry || entry->request.body != delivery(reported[i], t0).request.body) ++lost;
  }
  CHECK(lost == 0);
  // No claim of the process is left without its entry, either (a claim it won but had not
  // reported yet has its entry too).
  CHECK(store->size() == store->counts().pending);
}

TEST_CASE("two processes taking from one sqlite file never get the same entry") {
  constexpr int key_count = 1000;
  // SQLite's lock waits are not fair: one process may take every entry before the other gets a
  // turn. So each pauses briefly after a take, as a worker does while it hands entries on, and
  // a round that one process took entirely still counts, but then another one is run.
  constexpr int max_rounds = 3;
  const TempDir dir(fast_directory());
  int races = 0;
  for (int round = 0; round < max_rounds && races == 0; ++round) {
    CAPTURE(round);
    const std::string uri = "sqlite:" + dir.file("shared-" + std::to_string(round) + ".db");
    {
      const auto store = open_store(uri);
      for (int i = 0; i < key_count; ++i) {
        REQUIRE(
            store->claim_and_enqueue(delivery("k" + std::to_string(i), t0 + i * 1ms), long_ttl));
      }
    }
    // Both open the store, then wait on a pipe and start when it closes: they take at once.
    int start[2];
    REQUIRE(pipe(start) == 0);
    std::vector<std::string> outs;
    std::vector<pid_t> pids;
    for (int p = 0; p < 2; ++p) {
      outs.push_back(dir.file("out-" + std::to_string(round) + "-" + std::to_string(p)));
      pids.push_back(fork_child([&] {
        close(start[1]);
        const int fd = ::open(outs.back().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
        const auto store = open_store(uri);
        char byte = 0;
        (void)read(start[0], &byte, 1);
        // The same time and lease in both: only the lease keeps them apart. More takes than
        // entries would never end: stop then.
        for (int count = 0; count <= key_count;) {
          const auto taken = store->take(t0 + 1h, 1h, 2);
          if (taken.empty()) return 0;
          for (const auto& each : taken) report(fd, each.entry.key);
          count += static_cast<int>(taken.size());
          std::this_thread::sleep_for(50us);
        }
        return 3;
      }));
    }
    close(start[0]);
    close(start[1]);
    std::multiset<std::string> taken;
    int processes_that_took = 0;
    for (std::size_t p = 0; p < 2; ++p) {
      CHECK(wait_status(pids[p]) == 0);
      const auto lines = whole_lines(outs[p]);
      processes_that_took += lines.empty() ? 0 : 1;
      taken.insert(lines.begin(), lines.end());
    }
    races += processes_that_took > 1 ? 1 : 0;
    CHECK(taken.size() == key_count);
    CHECK(std::set<std::string>(taken.begin(), taken.end()).size() == key_count);
  }
  // Guards the test itself: without a round that both processes took from, nothing raced.
  CHECK(races == 1);
}

}  // namespace
