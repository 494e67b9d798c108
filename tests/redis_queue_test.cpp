// What only the Redis queue promises (the behaviour suite, queue_store_test.cpp, runs it with
// the other stores): several hosts' Store objects on one queue, the stream and its consumer
// group underneath, the dead-letter stream, expiry of what an entry leaves, and a server that
// goes away and comes back. Keys are looked at through a raw connection of the test's own.

// hiredis's sds.h declares flexible array members, which -Wpedantic rejects in C++.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#include <hiredis/hiredis.h>
#pragma GCC diagnostic pop
#include <doctest/doctest.h>
#include <stdlib.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <functional>
#include <latch>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/redis.h"
#include "support/wait.h"
#include "tykhook/error.h"
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
using tykhook::test::redis_server_on_path;
using tykhook::test::redis_test_uri;
using tykhook::test::redis_unavailable;
using tykhook::test::RedisServer;
using tykhook::test::wait_until;

constexpr auto long_ttl = std::chrono::milliseconds(10min);
constexpr auto lease = std::chrono::milliseconds(30s);
const TimePoint t0 = TimePoint(std::chrono::seconds(1'780'000'000)) + 123'456'789ns;
const AttemptRecord done{QueueState::done, std::nullopt, std::nullopt};

QueueEntry delivery(std::string key, TimePoint received) {
  QueueEntry entry;
  entry.key = std::move(key);
  entry.event = "api_key.created";
  entry.request.method = "POST";
  entry.request.target = "/hooks";
  entry.request.headers = {{"Content-Type", "application/json"}};
  entry.request.body = "{\"n\":\"" + entry.key + "\"}";
  entry.received = received;
  return entry;
}

// A raw connection to the test server, and the key prefix of one test's store.
class Raw {
 public:
  explicit Raw(const std::string& uri) {
    // redis://HOST:PORT...?prefix=P
    const auto host_start = uri.find("://") + 3;
    const auto colon = uri.find(':', host_start);
    const auto port_end = uri.find_first_of("/?", colon);
    const std::string host = uri.substr(host_start, colon - host_start);
    const int port = std::stoi(uri.substr(colon + 1, port_end - colon - 1));
    prefix_ = uri.substr(uri.find("prefix=") + 7);
    context_ = redisConnect(host.c_str(), port);
    REQUIRE(context_ != nullptr);
    REQUIRE(context_->err == 0);
  }
  ~Raw() { redisFree(context_); }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;

  // The integer that `command` (with %s the queue's base, `<prefix>{queue}:`) answers.
  long long integer(const std::string& command, const std::string& argument = "") {
    const std::string base = prefix_ + "{queue}:";
    auto* reply = static_cast<redisReply*>(
        redisCommand(context_, command.c_str(), base.c_str(), argument.c_str()));
    REQUIRE(reply != nullptr);
    const long long value = reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1000;
    INFO(command << ": reply type " << reply->type);
    freeReplyObject(reply);
    return value;
  }
  // Sets `<prefix><name>` as a version before the queue claimed it.
  void set_old_claim(const std::string& name) {
    const std::string key = prefix_ + name;
    auto* reply =
        static_cast<redisReply*>(redisCommand(context_, "SET %s x PX 600000", key.c_str()));
    REQUIRE(reply != nullptr);
    freeReplyObject(reply);
  }
  // The number of consumers in the group.
  long long consumers() {
    const std::string stream = prefix_ + "{queue}:ready";
    auto* reply = static_cast<redisReply*>(
        redisCommand(context_, "XINFO CONSUMERS %s workers", stream.c_str()));
    REQUIRE(reply != nullptr);
    REQUIRE(reply->type == REDIS_REPLY_ARRAY);
    const auto count = static_cast<long long>(reply->elements);
    freeReplyObject(reply);
    return count;
  }
  // The number of consumers of the group that hold entries in flight, and how many they hold.
  std::pair<long long, long long> in_flight() {
    const std::string stream = prefix_ + "{queue}:ready";
    auto* reply =
        static_cast<redisReply*>(redisCommand(context_, "XPENDING %s workers", stream.c_str()));
    REQUIRE(reply != nullptr);
    REQUIRE(reply->type == REDIS_REPLY_ARRAY);
    REQUIRE(reply->elements == 4);
    const long long count = reply->element[0]->integer;
    const long long consumers =
        reply->element[3]->type == REDIS_REPLY_ARRAY ? reply->element[3]->elements : 0;
    freeReplyObject(reply);
    return {consumers, count};
  }

 private:
  redisContext* context_ = nullptr;
  std::string prefix_;
};

}  // namespace

TEST_CASE("two stores (two hosts) taking at once never get the same entry, and take every one") {
  const auto uri = redis_test_uri();
  if (!uri) return;
  constexpr int key_count = 600;
  {
    const auto store = open_store(*uri);
    for (int i = 0; i < key_count; ++i) {
      REQUIRE(store->claim_and_enqueue(delivery("k" + std::to_string(i), t0 + i * 1ms), long_ttl));
    }
  }
  std::vector<std::unique_ptr<Store>> hosts;
  hosts.push_back(open_store(*uri));
  hosts.push_back(open_store(*uri));
  std::vector<std::vector<std::string>> taken(2);
  // Each round starts on both at once, however the threads are scheduled.
  std::barrier round_start(2);
  std::vector<std::thread> threads;
  for (int h = 0; h < 2; ++h) {
    threads.emplace_back([&, h] {
      // The same time and lease on both: only the queue keeps them apart.
      for (int round = 0; round <= key_count; ++round) {
        round_start.arrive_and_wait();
        const auto got = hosts[h]->take(t0 + 1h, 1h, 3);
        if (got.empty()) {
          round_start.arrive_and_drop();
          return;
        }
        for (const auto& each : got) taken[h].push_back(each.entry.key);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::multiset<std::string> all(taken[0].begin(), taken[0].end());
  all.insert(taken[1].begin(), taken[1].end());
  CHECK(all.size() == key_count);
  CHECK(std::set<std::string>(all.begin(), all.end()).size() == key_count);
  // Both took a share: the takes interleaved.
  CHECK_FALSE(taken[0].empty());
  CHECK_FALSE(taken[1].empty());
  Raw raw(*uri);
  // Every one is in flight in the consumer group: two consumers hold them.
  CHECK(raw.in_flight() == std::pair<long long, long long>{2, key_count});
}

TEST_CASE("a lease that ran out on one host is taken over by the other") {
  const auto uri = redis_test_uri();
  if (!uri) return;
  const auto first = open_store(*uri);
  const auto second = open_store(*uri);
  Raw raw(*uri);
  REQUIRE(first->claim_and_enqueue(delivery("k1", t0), long_ttl));
  const auto one = first->take(t0, lease, 10);
  REQUIRE(one.size() == 1);
  CHECK(raw.in_flight() == std::pair<long long, long long>{1, 1});
  CHECK(second->take(t0 + lease - 1ns, lease, 10).empty());
  const auto two = second->take(t0 + lease, lease, 10);
  REQUIRE(two.size() == 1);
  CHECK(two[0].entry.key == "k1");
  CHECK(two[0].entry.attempts == 2);
  // The stream's entry moved to the second host's consumer (XCLAIM): still one in flight.
  CHECK(raw.in_flight().second == 1);
  CHECK_FALSE(first->finish("k1", one[0].token, done));
  CHECK(second->finish("k1", two[0].token, done));
  CHECK(raw.in_flight().second == 0);
  CHECK(raw.integer("XLEN %sready") == 0);
}

TEST_CASE("a store that goes away leaves the consumer group, unless it holds entries") {
  const auto uri = redis_test_uri();
  if (!uri) return;
  Raw raw(*uri);
  {
    const auto store = open_store(*uri);
    for (const auto* key : {"k1", "k2"}) {
      REQUIRE(store->claim_and_enqueue(delivery(key, t0), long_ttl));
    }
    const auto taken = store->take(t0, lease, 1);
    REQUIRE(taken.size() == 1);
    REQUIRE(store->finish(taken[0].entry.key, taken[0].token, done));
  }
  CHECK(raw.consumers() == 0);
  {
    const auto store = open_store(*uri);
    REQUIRE(store->take(t0, lease, 1).size() == 1);
  }
  // It went with an entry in flight: its name stays until another store takes the entry over.
  CHECK(raw.consumers() == 1);
  CHECK(raw.in_flight() == std::pair<long long, long long>{1, 1});
}

TEST_CASE("dead entries wait in the dead-letter stream, and retry brings them back") {
  const auto uri = redis_test_uri();
  if (!uri) return;
  const auto store = open_store(*uri);
  Raw raw(*uri);
  for (const auto* key : {"k1", "k2", "k3"}) {
    REQUIRE(store->claim_and_enqueue(delivery(key, t0), long_ttl));
  }
  const auto taken = store->take(t0, lease, 10);
  REQUIRE(taken.size() == 3);
  // While their attempts run, the three are in the stream attempts are handed out from.
  CHECK(store->counts().ready_stream_length == 3u);
  CHECK(store->counts().dead_letter_stream_length == 0u);
  for (const auto& each : taken) {
    if (each.entry.key != "k3") {
      REQUIRE(store->finish(each.entry.key, each.token, {QueueState::dead, std::nullopt, "410"}));
    } else {
      REQUIRE(store->finish(each.entry.key, each.token, done));
    }
  }
  CHECK(raw.integer("XLEN %sdead-letters") == 2);
  const auto dead = store->list(QueueState::dead, 10);
  REQUIRE(dead.size() == 2);
  const auto counts = store->counts();
  CHECK(counts.dead == 2);
  CHECK(counts.ready_stream_length == 0u);
  CHECK(counts.dead_letter_stream_length == 2u);
  CHECK(store->retry("k1", t0 + 1h));
  CHECK(raw.integer("XLEN %sdead-letters") == 1);
  CHECK(store->list(QueueState::dead, 10).size() == 1);
  const auto back = store->take(t0 + 1h, lease, 10);
  REQUIRE(back.size() == 1);
  CHECK(back[0].entry.key == "k1");
  CHECK(store->drop("k2"));
  CHECK(raw.integer("XLEN %sdead-letters") == 0);
}

TEST_CASE("claim_and_enqueue of one key from 8 threads, each its own store, queues it once") {
  const auto uri = redis_test_uri();
  if (!uri) return;
  constexpr int thread_count = 8;
  std::vector<std::unique_ptr<Store>> stores;
  for (int t = 0; t < thread_count; ++t) stores.push_back(open_store(*uri));
  for (int round = 0; round < 20; ++round) {
    const std::string key = "k" + std::to_string(round);
    std::atomic<int> won{0};
    std::latch start(thread_count);
    std::vector<std::thread> threads;
    for (int t = 0; t < thread_count; ++t) {
      threads.emplace_back([&, t] {
        start.arrive_and_wait();
        if (stores[t]->claim_and_enqueue(delivery(key, t0), long_ttl)) ++won;
      });
    }
    for (auto& thread : threads) thread.join();
    CHECK(won.load() == 1);
  }
  Raw raw(*uri);
  CHECK(stores[0]->counts().pending == 20);
  CHECK(raw.integer("ZCARD %sdue") == 20);
  CHECK(stores[0]->take(t0, lease, 100).size() == 20);
}

TEST_CASE("what a done or dead entry leaves in Redis is gone after its claim's TTL") {
  const auto uri = redis_test_uri();
  if (!uri) return;
  const auto store = open_store(*uri);
  Raw raw(*uri);
  constexpr auto ttl = std::chrono::milliseconds(400ms);
  REQUIRE(store->claim_and_enqueue(delivery("done", t0), ttl));
  REQUIRE(store->claim_and_enqueue(delivery("dead", t0), ttl));
  REQUIRE(store->claim_and_enqueue(delivery("waiting", t0), ttl));
  for (const auto& each : store->take(t0, lease, 10)) {
    if (each.entry.key == "done") REQUIRE(store->finish("done", each.token, done));
    if (each.entry.key == "dead") {
      REQUIRE(store->finish("dead", each.token, {QueueState::dead, std::nullopt, "410"}));
    }
  }
  // Finished before the claim expired: the entry expires with it, on Redis's clock.
  const long long left = raw.integer("PTTL %sentry:%s", "done");
  CHECK(left > 0);
  CHECK(left <= ttl.count());
  CHECK(raw.integer("TTL %sentry:%s", "waiting") == -1);  // a waiting entry never expires
  REQUIRE(wait_until("the done and dead entries to expire", [&] {
    return raw.integer("EXISTS %sentry:%s", "done") == 0 &&
           raw.integer("EXISTS %sentry:%s", "dead") == 0 &&
           raw.integer("EXISTS %sclaim:%s", "done") == 0;
  }));
  // The indexes forget them at the next call that looks (counts, as /metrics does).
  const auto counts = store->counts();
  CHECK(counts.done == 0);
  CHECK(counts.dead == 0);
  CHECK(counts.pending == 1);
  CHECK(raw.integer("ZCARD %sdone") == 0);
  CHECK(raw.integer("ZCARD %sdead") == 0);
  CHECK(raw.integer("ZCARD %sall") == 1);
  CHECK(raw.integer("XLEN %sdead-letters") == 0);
  CHECK(raw.integer("HLEN %sdead-ids") == 0);
  CHECK(raw.integer("EXISTS %sentry:%s", "waiting") == 1);
}

TEST_CASE("with Redis gone, each queue call throws an Error naming the address; it comes back") {
  if (!redis_server_on_path()) {
    redis_unavailable("redis-server is not on PATH", "install redis-server");
    return;
  }
  const std::string password = "queue-pw-" + tykhook::test::unique_name();
  RedisServer server({"--requirepass", password});
  setenv("TYKHOOK_REDIS_PASSWORD", password.c_str(), 1);
  const auto store = open_store(server.uri(), StoreOptions{.redis_timeout = 500ms});
  unsetenv("TYKHOOK_REDIS_PASSWORD");
  REQUIRE(store->claim_and_enqueue(delivery("k1", t0), long_ttl));
  server.stop();
  const std::vector<std::function<void()>> calls = {
      [&] { (void)store->claim_and_enqueue(delivery("k2", t0), long_ttl); },
      [&] { (void)store->take(t0, lease, 10); },
      [&] { (void)store->finish("k1", 1, done); },
      [&] { (void)store->next_due(); },
      [&] { (void)store->list(std::nullopt, 10); },
      [&] { (void)store->find("k1"); },
      [&] { (void)store->retry("k1", t0); },
      [&] { (void)store->drop("k1"); },
      [&] { (void)store->counts(); },
  };
  for (std::size_t i = 0; i < calls.size(); ++i) {
    CAPTURE(i);
    try {
      calls[i]();
      FAIL("no error with the server gone");
    } catch (const tykhook::Error& e) {
      const std::string message = e.what();
      CHECK(message.starts_with("store \"" + server.uri() + "\": "));
      CHECK(message.find("Connection refused") != std::string::npos);
      CHECK(message.find(password) == std::string::npos);
    }
  }
  // The server comes back (empty: it kept nothing); so does the store, by itself.
  server.start();
  REQUIRE(store->claim_and_enqueue(delivery("k3", t0), long_ttl));
  const auto taken = store->take(t0, lease, 10);
  REQUIRE(taken.size() == 1);
  CHECK(taken[0].entry.key == "k3");
  CHECK(store->finish("k3", taken[0].token, done));
}

TEST_CASE("claims made before the queue, under the old names, still make duplicates") {
  const auto uri = redis_test_uri();
  if (!uri) return;
  Raw raw(*uri);
  raw.set_old_claim("old");
  raw.set_old_claim("old-queued");
  const auto store = open_store(*uri);
  CHECK_FALSE(store->claim("old", long_ttl));
  CHECK_FALSE(store->claim_and_enqueue(delivery("old-queued", t0), long_ttl));
  CHECK(store->claim("new", long_ttl));
  CHECK(store->claim_and_enqueue(delivery("new-queued", t0), long_ttl));
  CHECK(store->counts().pending == 1);
  // A store opened later on the prefix knows it from the marker, without looking again.
  CHECK_FALSE(open_store(*uri)->claim("old", long_ttl));
  // A claim's TTL after the upgrade, every old claim has expired: no longer asked for. (The old
  // claim here has not, so a claim with a TTL of 1ms wins once 1ms has passed.)
  CHECK(wait_until("claims of 1ms to stop asking for old claims",
                   [&] { return store->claim("old", 1ms); }));
}
