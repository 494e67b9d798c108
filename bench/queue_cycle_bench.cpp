// queue_cycle_bench: what one delivery costs the store's queue, deterministically. Runs full
// cycles through the public Store interface, each as the receiver and its worker make them:
// claim_and_enqueue of a new delivery (a portal request: its headers and a ~400-byte body), a
// take of up to --take-max entries, next_due() when the take found fewer (as the worker does),
// and finish(done). With --handed, the cycle of a delivery that the receiver hands straight to
// its worker: claim_and_lease, then finish(done), no take. One thread, so every step is its own
// transaction: the worst case of the group commit, and the same sequence of statements in
// every run.
//
//   queue_cycle_bench --store sqlite:/tmp/q.db [--warm-up 20000] [--cycles 2000] [--handed]
//
// The warm-up fills the queue with done entries first, as a receiver's queue holds them until
// their claims expire. The measured cycles run in measured_cycles(), so that an instruction
// counter can be limited to them:
//
//   valgrind --tool=callgrind '--toggle-collect=*measured_cycles*' queue_cycle_bench ...
//
// (the pattern's stars: the function is in an anonymous namespace, and its full name says so)
//
// Prints the bytes this process wrote (write and pwrite, from /proc/self/io: WAL frames and
// checkpoints) and the write calls per measured cycle.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "tykhook/queue.h"
#include "tykhook/store.h"

namespace {

using namespace std::chrono_literals;

// A UserRegistered delivery as the portal sends it, with the headers the receiver keeps.
tykhook::QueueEntry entry_for(std::uint64_t n, tykhook::TimePoint now) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string key(64, '0');
  for (std::size_t i = key.size(); n != 0; n /= 16) key[--i] = digits[n % 16];
  tykhook::QueueEntry entry;
  entry.event = "UserRegistered";
  entry.request.target = "/webhooks/tyk";
  entry.request.body =
      "{\"Event\":\"UserRegistered\",\"Message\":{\"ID\":29,\"Email\":\"cycle-" + key +
      "@example.com\",\"First\":\"FirstName\",\"Last\":\"Lastname\",\"OrgID\":1,"
      "\"Provider\":\"password\",\"Status\":\"active\",\"CreatedAt\":\"2026-12-05T20:00:00Z\","
      "\"ByUser\":1,\"CustomAttributes\":[]},\"Timestamp\":\"2026-12-05T20:00:00Z\"}";
  entry.request.headers = {
      {"Host", "127.0.0.1:8080"},
      {"User-Agent", "Go-http-client/1.1"},
      {"Content-Length", std::to_string(entry.request.body.size())},
      {"Content-Type", "application/json"},
      {"X-Signature-SHA256",
       "sha256=9f2c6d0e4b7a1c3e5f8a2b4d6c8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e"},
      {"Accept-Encoding", "gzip"},
  };
  entry.key = std::move(key);
  entry.received = now;
  entry.next_attempt = now;
  return entry;
}

struct Counters {
  std::uint64_t taken = 0;
  std::uint64_t done = 0;
};

// One delivery's way through the queue, as the receiver and the worker drive it: handed
// (take_max 0), or queued and taken.
void cycle(tykhook::Store& store, std::uint64_t n, std::size_t take_max, Counters& counters) {
  const auto now =
      std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now());
  if (take_max == 0) {
    const auto claimed = store.claim_and_lease(entry_for(n, now), 24h, now + 30s);
    counters.taken += claimed.token ? 1 : 0;
    if (claimed.token &&
        store.finish(entry_for(n, now).key, *claimed.token, {.state = tykhook::QueueState::done})) {
      ++counters.done;
    }
    return;
  }
  if (!store.claim_and_enqueue(entry_for(n, now), 24h)) return;
  const auto leased = store.take(now, 30s, take_max);
  counters.taken += leased.size();
  if (leased.size() < take_max) (void)store.next_due();
  for (const auto& each : leased) {
    if (store.finish(each.entry.key, each.token, {.state = tykhook::QueueState::done})) {
      ++counters.done;
    }
  }
}

[[gnu::noinline]] void measured_cycles(tykhook::Store& store, std::uint64_t first,
                                       std::uint64_t count, std::size_t take_max,
                                       Counters& counters) {
  for (std::uint64_t n = first; n < first + count; ++n) cycle(store, n, take_max, counters);
}

// write_bytes is what reached the block layer; wchar is what this process handed to write and
// pwrite, the WAL frames and checkpoints themselves, whatever the page cache does with them.
struct Io {
  std::uint64_t wchar = 0;
  std::uint64_t syscw = 0;
};

Io read_io() {
  std::ifstream in("/proc/self/io");
  Io io;
  std::string name;
  std::uint64_t value = 0;
  while (in >> name >> value) {
    if (name == "wchar:") io.wchar = value;
    if (name == "syscw:") io.syscw = value;
  }
  return io;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"queue_cycle_bench: claim_and_enqueue, take and finish, cycle by cycle"};
  std::string uri;
  std::uint64_t warm_up = 20000;
  std::uint64_t cycles = 2000;
  std::size_t take_max = 8;
  app.add_option("--store", uri, "The store, sqlite:PATH (or memory:)")->required();
  app.add_option("--warm-up", warm_up, "Cycles run first and not measured");
  app.add_option("--cycles", cycles, "Cycles measured");
  app.add_option("--take-max", take_max, "Entries a take asks for (the worker's free slots)")
      ->check(CLI::PositiveNumber);
  bool handed = false;
  app.add_flag("--handed", handed, "Lease each entry as it is queued, and take none");
  CLI11_PARSE(app, argc, argv);
  if (handed) take_max = 0;

  const auto store = tykhook::open_store(uri);
  // Keys from the clock, so that a second run on the same file claims new keys.
  const auto base =
      static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch() / 1us) << 8;
  Counters counters;
  for (std::uint64_t n = base; n < base + warm_up; ++n) cycle(*store, n, take_max, counters);
  counters = {};
  const Io before = read_io();
  const auto started = std::chrono::steady_clock::now();
  measured_cycles(*store, base + warm_up, cycles, take_max, counters);
  const auto took = std::chrono::steady_clock::now() - started;
  const Io after = read_io();
  if (counters.done != cycles) {
    std::cerr << "queue_cycle_bench: " << counters.done << " of " << cycles
              << " cycles ended done (" << counters.taken << " taken)\n";
    return 1;
  }
  const auto per_cycle = [&](std::uint64_t total) {
    return static_cast<double>(total) / static_cast<double>(cycles);
  };
  std::printf(
      "RESULT cycles=%llu us_per_cycle=%.1f written_bytes_per_cycle=%.0f "
      "writes_per_cycle=%.2f\n",
      static_cast<unsigned long long>(cycles),
      per_cycle(static_cast<std::uint64_t>(took / 1ns)) / 1000.0,
      per_cycle(after.wchar - before.wchar), per_cycle(after.syscw - before.syscw));
  return 0;
}
