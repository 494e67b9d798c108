#include "tykhook/worker.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tykhook/store.h"

namespace tykhook {
namespace {

WorkerOptions checked(WorkerOptions options) {
  if (!options.store || !options.store->has_queue()) {
    throw std::invalid_argument("tykhook::Worker: no store with a queue; give memory: or sqlite:");
  }
  if (!options.target) throw std::invalid_argument("tykhook::Worker: no target; give one");
  if (options.concurrency == 0 || options.lease.count() <= 0 || options.poll.count() <= 0) {
    throw std::invalid_argument(
        "tykhook::Worker: concurrency, lease and poll must be positive; give positive values");
  }
  if (!options.clock) {
    options.clock = [] { return std::chrono::time_point_cast<TimePoint::duration>(Clock::now()); };
  }
  if (!options.random) {
    auto generator = std::make_shared<std::mt19937_64>(std::random_device{}());
    auto mutex = std::make_shared<std::mutex>();
    options.random = [generator, mutex] {
      const std::lock_guard lock(*mutex);
      return std::uniform_real_distribution<double>(0.0, 1.0)(*generator);
    };
  }
  return options;
}

// What a target's failure to keep its contract (a throw) comes to: a failure that may pass.
AttemptResult attempt_safely(Target& target, const QueueEntry& entry) {
  try {
    return target.attempt(entry);
  } catch (const std::exception& failure) {
    return {AttemptOutcome::retry, target.describe() + ": " + failure.what(), std::nullopt};
  } catch (...) {
    return {AttemptOutcome::retry,
            target.describe() + ": an exception that is not a std::exception", std::nullopt};
  }
}

}  // namespace

// The state the attempt threads share with run(). Held by shared_ptr, so that threads still in an
// attempt when stop() has waited `drain` long can be left to finish on their own.
struct Worker::Impl {
  struct Shared {
    explicit Shared(WorkerOptions opts) : options(std::move(opts)) {}
    const WorkerOptions options;
    std::mutex mutex;
    // Two conditions, so that no wake-up goes to a thread with nothing to do: attempt threads
    // wait on `work` (an entry is ready, or stopping), run() on `changed` (an attempt ended, an
    // entry was queued, or stopping). One shared condition woke every idle attempt thread at the
    // end of each attempt: at --concurrency 64, 64 wake-ups a delivery.
    std::condition_variable work;
    std::condition_variable changed;
    std::vector<LeasedEntry> ready;  // taken, waiting for a free attempt thread
    std::size_t in_flight = 0;       // slots in use: taken or handed and not finished, or reserved
    bool stopping = false;
    bool woken = false;
    // An attempt ended retrying: its next attempt may fall due before run() would look again.
    bool retried = false;
    bool running = false;
  };

  explicit Impl(WorkerOptions options)
      : shared(std::make_shared<Shared>(checked(std::move(options)))) {}

  // One attempt thread: takes a ready entry, makes the attempt, records it.
  static void attempts(const std::shared_ptr<Shared>& shared) {
    const WorkerOptions& options = shared->options;
    std::unique_lock lock(shared->mutex);
    while (true) {
      shared->work.wait(lock, [&] { return !shared->ready.empty() || shared->stopping; });
      if (shared->ready.empty()) return;
      LeasedEntry leased = std::move(shared->ready.back());
      shared->ready.pop_back();
      lock.unlock();
      const bool retrying = attempt_one(options, leased);
      lock.lock();
      --shared->in_flight;
      shared->retried = shared->retried || retrying;
      shared->changed.notify_one();  // run() alone waits on it
    }
  }

  // Returns whether the attempt ended retrying.
  static bool attempt_one(const WorkerOptions& options, const LeasedEntry& leased) {
    const auto started = std::chrono::steady_clock::now();
    const AttemptResult result = attempt_safely(*options.target, leased.entry);
    const auto duration = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started);
    const TimePoint ended = options.clock();
    const AttemptRecord record =
        after_attempt(leased.entry, result, ended, options.retry, options.random());
    try {
      // A finish that fails leaves the lease to run out: the entry is attempted again, so a
      // success is never lost, at the cost of the target seeing it twice.
      options.store->finish(leased.entry.key, leased.token, record);
    } catch (const std::exception& failure) {
      report_store_error(options, failure.what());
    }
    if (options.on_attempt) {
      try {
        options.on_attempt(AttemptReport{leased.entry, result, record, duration, ended});
      } catch (...) {
      }
    }
    return record.state == QueueState::retrying;
  }

  static void report_store_error(const WorkerOptions& options, const std::string& error) {
    if (!options.on_store_error) return;
    try {
      options.on_store_error(error);
    } catch (...) {
    }
  }

  static std::size_t free_slots(const Shared& shared) {
    const std::size_t all = shared.options.concurrency;
    return shared.in_flight >= all ? 0 : all - shared.in_flight;
  }

  // How long run() may sleep before it looks at the store again.
  static std::chrono::milliseconds pause(const WorkerOptions& options,
                                         std::optional<TimePoint> due) {
    if (!due) return options.poll;
    const auto until =
        std::chrono::duration_cast<std::chrono::milliseconds>(*due - options.clock());
    return std::clamp(until + std::chrono::milliseconds(1), std::chrono::milliseconds(0),
                      options.poll);
  }

  std::shared_ptr<Shared> shared;
};

Worker::Worker(WorkerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Worker::~Worker() {
  stop();
  // run() returns only after stop(); the owner that ran it waits for it before destroying.
}

void Worker::run() {
  const auto shared = impl_->shared;
  const WorkerOptions& options = shared->options;
  {
    const std::lock_guard lock(shared->mutex);
    if (shared->running) throw std::invalid_argument("tykhook::Worker: run() is already running");
    shared->running = true;
  }
  std::vector<std::thread> threads;
  threads.reserve(options.concurrency);
  for (std::size_t i = 0; i < options.concurrency; ++i) {
    threads.emplace_back([shared] { Impl::attempts(shared); });
  }

  std::unique_lock lock(shared->mutex);
  // Whether entries may be due that no take has seen: the last take filled every free slot, or
  // entries were queued or retried since. With every slot busy and no backlog (the slots hold
  // entries handed in by their producer), the end of an attempt is no reason to look.
  bool backlog = false;
  while (!shared->stopping) {
    const std::size_t free = Impl::free_slots(*shared);
    std::optional<TimePoint> due;
    std::size_t taken = 0;
    if (free > 0) {
      // The free slots are the take's until it returns: reserve() finds them busy meanwhile.
      shared->in_flight += free;
      lock.unlock();
      try {
        std::vector<LeasedEntry> leased = options.store->take(options.clock(), options.lease, free);
        taken = leased.size();
        if (taken < free) due = options.store->next_due();
        lock.lock();
        for (auto& each : leased) shared->ready.push_back(std::move(each));
      } catch (const std::exception& failure) {
        Impl::report_store_error(options, failure.what());
        lock.lock();
      }
      shared->in_flight -= free - taken;
      for (std::size_t i = 0; i < taken; ++i) shared->work.notify_one();
      backlog = taken == free;
    }
    if (taken == free && free > 0) continue;  // more may be due: look again at once
    // Sleep until an entry falls due, one is queued (wake), an attempt ends retrying, or the
    // poll time. With every slot busy and a backlog, wait for a quarter of them to end: one
    // take then leases entries for all of them, instead of one take (one transaction) per
    // attempt. Otherwise the end of an attempt that did not retry changes nothing due: no look
    // at the store for it (entries handed in by their producer end so, many a second).
    const bool saturated = shared->in_flight >= options.concurrency;
    const std::size_t refill = std::max<std::size_t>(1, options.concurrency / 4);
    shared->changed.wait_for(lock, Impl::pause(options, due), [&] {
      if (shared->stopping || shared->woken || shared->retried) return true;
      return saturated && backlog && Impl::free_slots(*shared) >= refill;
    });
    backlog = backlog || shared->woken || shared->retried;
    shared->woken = false;
    shared->retried = false;
  }

  // Stopping: no new attempt; wait for those in flight, up to `drain`.
  const bool drained =
      shared->changed.wait_for(lock, options.drain, [&] { return shared->in_flight == 0; });
  lock.unlock();
  shared->work.notify_all();
  for (auto& thread : threads) {
    if (drained) {
      thread.join();
    } else {
      thread.detach();  // its attempt ends by the target's own timeout; the lease covers it
    }
  }
}

void Worker::stop() {
  const std::lock_guard lock(impl_->shared->mutex);
  impl_->shared->stopping = true;
  impl_->shared->work.notify_all();
  impl_->shared->changed.notify_all();
}

bool Worker::reserve() {
  const std::lock_guard lock(impl_->shared->mutex);
  Impl::Shared& shared = *impl_->shared;
  if (shared.stopping || !shared.running || Impl::free_slots(shared) == 0) return false;
  ++shared.in_flight;
  return true;
}

void Worker::hand(LeasedEntry leased) {
  Impl::Shared& shared = *impl_->shared;
  {
    const std::lock_guard lock(shared.mutex);
    if (!shared.stopping) {
      shared.ready.push_back(std::move(leased));
      shared.work.notify_one();
      return;
    }
  }
  // Stopping: no attempt starts now. The entry goes back to the store, due at once for the
  // next start or another worker, instead of waiting out its lease; its slot stays counted
  // until then, so that run() returns only after.
  try {
    (void)shared.options.store->give_back(leased.entry.key, leased.token);
  } catch (const std::exception& failure) {
    Impl::report_store_error(shared.options, failure.what());
  }
  const std::lock_guard lock(shared.mutex);
  --shared.in_flight;
  shared.changed.notify_all();
}

void Worker::unreserve() {
  const std::lock_guard lock(impl_->shared->mutex);
  --impl_->shared->in_flight;
  impl_->shared->changed.notify_all();
}

void Worker::wake() {
  const std::lock_guard lock(impl_->shared->mutex);
  impl_->shared->woken = true;
  impl_->shared->changed.notify_all();
}

}  // namespace tykhook
