// A helper process for store_test: claims the keys "key-FIRST" ... "key-(FIRST+COUNT-1)" in a
// store, and prints each key it won on its own line as soon as the claim returned, so that a
// test can kill it at any moment and know which claims it reported.
//
// Usage: store_claimer URI FIRST COUNT [START_UNIX_MS [PAUSE_US [THREADS]]]
// With START_UNIX_MS, it opens the store, then waits for that wall-clock time before the first
// claim, so that several claimers started one after another race from the same moment. With
// PAUSE_US, it pauses that long after each claim, as a receiver between deliveries does: the
// processes then keep pace and race on the same keys, rather than one winning every lock.
// With THREADS, that many threads claim every key at once (a receiver's concurrent deliveries,
// whose claims the store commits in groups); a key is printed by the thread that won it.
// Exit status: 0 done, 2 bad arguments or a store error (on standard error).

#include <chrono>
#include <cstdio>
#include <exception>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tykhook/error.h"
#include "tykhook/store.h"

int main(int argc, char** argv) {
  if (argc < 4 || argc > 7) {
    std::fputs("usage: store_claimer URI FIRST COUNT [START_UNIX_MS [PAUSE_US [THREADS]]]\n",
               stderr);
    return 2;
  }
  try {
    const auto store = tykhook::open_store(argv[1]);
    const long long first = std::stoll(argv[2]);
    const long long count = std::stoll(argv[3]);
    const std::chrono::microseconds pause(argc >= 6 ? std::stoll(argv[5]) : 0);
    const int thread_count = argc == 7 ? std::stoi(argv[6]) : 1;
    if (argc >= 5) {
      const std::chrono::system_clock::time_point start(
          std::chrono::milliseconds(std::stoll(argv[4])));
      std::this_thread::sleep_until(start);
    }
    const auto ttl = std::chrono::hours(1);
    std::mutex output;
    std::exception_ptr failure;
    const auto claim_all = [&] {
      try {
        for (long long i = first; i < first + count; ++i) {
          const std::string key = "key-" + std::to_string(i);
          if (store->claim(key, ttl)) {
            // One write per line, flushed at once: a kill leaves only whole lines of won keys.
            const std::string line = key + "\n";
            const std::lock_guard lock(output);
            std::fwrite(line.data(), 1, line.size(), stdout);
            std::fflush(stdout);
          }
          if (pause.count() > 0) std::this_thread::sleep_for(pause);
        }
      } catch (...) {
        const std::lock_guard lock(output);
        failure = std::current_exception();
      }
    };
    std::vector<std::thread> threads;
    for (int t = 1; t < thread_count; ++t) threads.emplace_back(claim_all);
    claim_all();
    for (auto& thread : threads) thread.join();
    if (failure) std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "store_claimer: %s\n", e.what());
    return 2;
  }
  return 0;
}
