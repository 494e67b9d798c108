#pragma once

// Private to the library: group commit. Threads that each need a slow durable step (an fsync,
// a SQLite commit) hand their work to one leader, which does the step once for everything
// handed in so far, while the others wait for the batch that holds their work.

#include <condition_variable>
#include <exception>
#include <mutex>
#include <vector>

namespace tykhook::detail {

/// Batches the work of concurrent callers of submit() into one commit. Leader and followers: the
/// first caller that finds no commit running becomes the leader and commits every item
/// submitted until then; callers that arrive meanwhile wait, and the next leader takes them all
/// as the next batch. No caller returns before the batch that holds its item is committed.
template <class Item>
class GroupCommit {
 public:
  /// Submits `item` and returns once a commit has handled it. `commit(std::vector<Item*>&)`
  /// runs on one thread at a time, for a batch in submission order, and records each item's
  /// outcome in the item; what it throws is rethrown to every caller of the batch.
  template <class Commit>
  void submit(Item& item, Commit&& commit) {
    Waiter waiter{&item};
    std::unique_lock lock(mutex_);
    pending_.push_back(&waiter);
    if (committing_) {
      // Each waiter sleeps on its own condition and is woken once: when its batch is
      // committed, or when it is handed the lead of the next batch. (One shared condition woke
      // every waiter at the end of each commit, and all but one went back to sleep.)
      waiter.wake.wait(lock, [&] { return waiter.done || waiter.lead; });
      if (waiter.done) {
        if (waiter.failure) std::rethrow_exception(waiter.failure);
        return;
      }
    }
    // Lead a commit, for every item that waits.
    committing_ = true;
    std::vector<Waiter*> waiters;
    waiters.swap(pending_);
    lock.unlock();
    std::vector<Item*> batch;
    batch.reserve(waiters.size());
    for (Waiter* each : waiters) batch.push_back(each->item);
    std::exception_ptr failure;
    try {
      commit(batch);
    } catch (...) {
      failure = std::current_exception();
    }
    lock.lock();
    for (Waiter* each : waiters) {
      each->failure = failure;
      each->done = true;
      if (each != &waiter) each->wake.notify_one();
    }
    if (pending_.empty()) {
      committing_ = false;
    } else {
      // Those that arrived meanwhile are the next batch: the first of them leads it.
      pending_.front()->lead = true;
      pending_.front()->wake.notify_one();
    }
    lock.unlock();
    if (failure) std::rethrow_exception(failure);
  }

 private:
  struct Waiter {
    Item* item;
    bool done = false;
    bool lead = false;
    std::exception_ptr failure;
    std::condition_variable wake;
  };

  std::mutex mutex_;
  std::vector<Waiter*> pending_;
  bool committing_ = false;
};

}  // namespace tykhook::detail
