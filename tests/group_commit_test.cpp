// Group commit (lib/src/group_commit.h): every item is committed exactly once, in a batch that
// keeps the order of submission, no caller returns before the batch with its item is
// committed, the items submitted during a commit make the next batch (its leader is handed
// the lead), and a failure reaches every caller of its batch and no other.

#include "group_commit.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/wait.h"

namespace {

using namespace std::chrono_literals;
using tykhook::detail::GroupCommit;
using tykhook::test::wait_until;

struct Item {
  int id = 0;
  int batch = -1;          // the commit that handled it
  bool committed = false;  // set by the commit
};

TEST_CASE("16 threads x 200 items: each committed once, in order within a batch, before return") {
  GroupCommit<Item> group;
  std::mutex mutex;
  int batches = 0;
  std::vector<int> commits_per_item(16 * 200, 0);
  std::vector<std::thread> threads;
  std::atomic<int> returned_early{0};
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        Item item{.id = t * 200 + i};
        group.submit(item, [&](std::vector<Item*>& batch) {
          // A commit takes time, as an fsync does: threads arrive while it runs. (Without it, on
          // an idle machine each thread could find the committer free every time.)
          std::this_thread::sleep_for(100us);
          const std::lock_guard lock(mutex);
          ++batches;
          int previous_of_thread[16];
          for (int& each : previous_of_thread) each = -1;
          for (Item* each : batch) {
            ++commits_per_item[static_cast<std::size_t>(each->id)];
            // One thread submits one item at a time: a batch holds at most one of each thread.
            const int thread = each->id / 200;
            CHECK(previous_of_thread[thread] == -1);
            previous_of_thread[thread] = each->id;
            each->batch = batches;
            each->committed = true;
          }
        });
        if (!item.committed) ++returned_early;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(returned_early == 0);
  for (std::size_t id = 0; id < commits_per_item.size(); ++id) {
    CAPTURE(id);
    REQUIRE(commits_per_item[id] == 1);
  }
  // Batching happened: fewer commits than items (16 threads contend for one slow committer).
  CHECK(batches < 16 * 200);
}

TEST_CASE("items submitted while a commit runs are the next batch, led by one of them") {
  GroupCommit<Item> group;
  std::mutex mutex;
  std::condition_variable changed;
  bool release_first = false;
  bool first_running = false;
  std::vector<std::vector<int>> batches;
  const auto commit = [&](std::vector<Item*>& batch) {
    std::unique_lock lock(mutex);
    std::vector<int> ids;
    for (Item* each : batch) {
      ids.push_back(each->id);
      each->committed = true;
    }
    batches.push_back(ids);
    if (batches.size() == 1) {
      first_running = true;
      changed.notify_all();
      changed.wait(lock, [&] { return release_first; });  // hold the first commit open
    }
  };
  Item first{.id = 0};
  auto leader = std::async(std::launch::async, [&] { group.submit(first, commit); });
  {
    std::unique_lock lock(mutex);
    REQUIRE(changed.wait_for(lock, 10s, [&] { return first_running; }));
  }
  // Three more arrive while the first commit runs.
  std::vector<Item> later(3);
  std::vector<std::future<void>> followers;
  std::atomic<int> submitted{0};
  for (int i = 0; i < 3; ++i) {
    later[static_cast<std::size_t>(i)].id = i + 1;
    followers.push_back(std::async(std::launch::async, [&, i] {
      ++submitted;
      group.submit(later[static_cast<std::size_t>(i)], commit);
    }));
  }
  REQUIRE(wait_until("three followers started", [&] { return submitted == 3; }));
  // None of them returns while the first commit holds: they wait for the next batch.
  for (auto& each : followers) CHECK(each.wait_for(50ms) == std::future_status::timeout);
  {
    const std::lock_guard lock(mutex);
    release_first = true;
  }
  changed.notify_all();
  REQUIRE(leader.wait_for(10s) == std::future_status::ready);
  for (auto& each : followers) REQUIRE(each.wait_for(10s) == std::future_status::ready);
  const std::lock_guard lock(mutex);
  REQUIRE(batches.size() >= 2);
  CHECK(batches[0] == std::vector<int>{0});
  int later_items = 0;
  for (std::size_t b = 1; b < batches.size(); ++b)
    later_items += static_cast<int>(batches[b].size());
  CHECK(later_items == 3);
  for (const Item& each : later) CHECK(each.committed);
}

TEST_CASE("a failed commit is thrown to every caller of its batch, and the next batch goes on") {
  GroupCommit<Item> group;
  std::atomic<int> commits{0};
  std::atomic<int> failures{0};
  std::atomic<int> successes{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        Item item{.id = t * 50 + i};
        try {
          group.submit(item, [&](std::vector<Item*>& batch) {
            // Every other commit fails: its items must all see the failure.
            if (commits++ % 2 == 0) throw std::runtime_error("disk full");
            for (Item* each : batch) each->committed = true;
          });
          CHECK(item.committed);
          ++successes;
        } catch (const std::runtime_error& failure) {
          CHECK(std::string(failure.what()) == "disk full");
          CHECK_FALSE(item.committed);
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(successes + failures == 8 * 50);
  CHECK(failures > 0);
  CHECK(successes > 0);
}

}  // namespace
