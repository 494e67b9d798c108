// Claims per second of each store, from one thread and from eight sharing one store. Every
// claim is of a new key, so every claim is a winning write (the receiver's common case: the
// portal does not resend), kept for one minute. SQLite writes to a file in the temporary directory
// (TMPDIR), so its numbers include a disk sync per claim. Redis runs only when
// TYKHOOK_TEST_REDIS_URI is set.
//
//   store_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tykhook/store.h"

namespace {

using namespace std::chrono_literals;

// An idempotency key is 64 hex digits (DESIGN.md); this one is unique per run, thread and
// iteration.
std::string key_for(const std::string& run, int thread, std::uint64_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string key = run + std::string(64 - run.size(), '0');
  key[run.size()] = digits[thread % 16];
  for (std::size_t i = key.size(); n != 0; n /= 16) key[--i] = digits[n % 16];
  return key;
}

// The benchmark library calls a benchmark several times (to size it, and per repetition):
// each call takes a fresh range of key numbers, so that no claim is a duplicate.
std::atomic<std::uint64_t> next_range{1};

void claim_new_keys(benchmark::State& state, tykhook::Store* store, const std::string* run) {
  std::uint64_t n = next_range.fetch_add(1) << 36;
  for (auto _ : state) {
    benchmark::DoNotOptimize(store->claim(key_for(*run, state.thread_index(), n++), 1min));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  const std::string run = std::to_string(getpid()) + "f" +
                          std::to_string(std::chrono::system_clock::now().time_since_epoch() /
                                         std::chrono::milliseconds(1));
  const auto dir = std::filesystem::temp_directory_path() / ("tykhook-store-bench-" + run);
  std::filesystem::create_directories(dir);

  struct Subject {
    std::string name;
    std::unique_ptr<tykhook::Store> store;
  };
  std::vector<Subject> subjects;
  // A full memory store evicts on every claim: its steady state, and a bounded footprint.
  subjects.push_back({"memory", tykhook::open_store("memory:", {.memory_max_keys = 1 << 18})});
  subjects.push_back({"sqlite", tykhook::open_store("sqlite:" + (dir / "bench.db").string())});
  if (const char* redis = std::getenv("TYKHOOK_TEST_REDIS_URI"); redis != nullptr && *redis) {
    const std::string uri = redis;
    subjects.push_back(
        {"redis", tykhook::open_store(uri + (uri.find('?') == std::string::npos ? "?" : "&") +
                                      "prefix=tykhook-bench:" + run + ":")});
  }
  for (const auto& subject : subjects) {
    benchmark::RegisterBenchmark(("claim/" + subject.name).c_str(), claim_new_keys,
                                 subject.store.get(), &run)
        ->Threads(1)
        ->Threads(8)
        ->Threads(16)
        ->UseRealTime();
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  subjects.clear();
  std::filesystem::remove_all(dir);
  return 0;
}
