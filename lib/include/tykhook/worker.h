#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tykhook/queue.h"
#include "tykhook/timestamp.h"

namespace tykhook {

class Store;

/// What one attempt to hand a delivery on came to (DESIGN.md, "Handing deliveries on").
enum class AttemptOutcome {
  done,   ///< the target took it
  retry,  ///< a failure that may pass: try again after the backoff
  dead,   ///< a failure that will not pass: give up at once
};

/// Returns the outcome's external name ("retry").
[[nodiscard]] std::string_view to_string(AttemptOutcome outcome);

/// The result of one attempt.
struct AttemptResult {
  AttemptOutcome outcome = AttemptOutcome::done;  ///< done, retry or dead
  /// Why it failed, for the log and `queue show` (never a body or a secret); empty when done.
  std::string error;
  /// The target's own wait before the next attempt (Retry-After), honoured up to the cap.
  std::optional<std::chrono::milliseconds> retry_after;
};

/// What a delivery is handed to: a handler, an HTTP endpoint or a command.
class Target {
 public:
  virtual ~Target() = default;
  /// Makes attempt number `entry.attempts` (1 for the first) to hand `entry` on. Returns how it
  /// ended; never throws for a failure of the target (that is an outcome). Called from several
  /// threads at once.
  [[nodiscard]] virtual AttemptResult attempt(const QueueEntry& entry) = 0;
  /// What the target is, for messages ("http://127.0.0.1:9000/hook", "command ./app").
  [[nodiscard]] virtual std::string describe() const = 0;
};

/// When to try again and when to give up (DESIGN.md's defaults).
struct RetryPolicy {
  std::chrono::milliseconds base{1'000};                ///< --retry-base
  std::chrono::milliseconds cap{3'600'000};             ///< --retry-cap
  unsigned max_attempts = 100;                          ///< --max-attempts
  std::chrono::milliseconds max_age{72LL * 3'600'000};  ///< --max-age, from arrival
};

/// The longest wait after `attempts` failed attempts (1 or more): min(cap, base * 2^(attempts-1)).
[[nodiscard]] std::chrono::milliseconds backoff_limit(unsigned attempts, const RetryPolicy& policy);

/// The wait after `attempts` failed attempts with full jitter: `uniform` (in [0, 1)) times
/// backoff_limit, or the target's `retry_after` when it asks for longer, never over the cap.
[[nodiscard]] std::chrono::milliseconds backoff_delay(
    unsigned attempts, const RetryPolicy& policy, double uniform,
    std::optional<std::chrono::milliseconds> retry_after = std::nullopt);

/// How the store records the attempt that `result` ended, made at `now` on `entry` (whose
/// attempts count it): done; dead when the target gave up, or when the next attempt would pass
/// max_attempts or max_age; otherwise retrying after backoff_delay.
[[nodiscard]] AttemptRecord after_attempt(const QueueEntry& entry, const AttemptResult& result,
                                          TimePoint now, const RetryPolicy& policy, double uniform);

/// One attempt as a worker made it: for logs and metrics.
struct AttemptReport {
  const QueueEntry& entry;                ///< as taken (attempts counts this attempt)
  const AttemptResult& result;            ///< what the target answered
  const AttemptRecord& record;            ///< what the store now holds
  std::chrono::microseconds duration{0};  ///< how long the target took
  TimePoint time{};                       ///< when it ended, by the worker's clock
};

/// How a Worker hands queued deliveries on.
struct WorkerOptions {
  std::shared_ptr<Store> store;    ///< a store with a queue (has_queue())
  std::shared_ptr<Target> target;  ///< what deliveries are handed to
  RetryPolicy retry;               ///< when to try again and when to give up
  std::size_t concurrency = 8;     ///< attempts at once
  /// How long an attempt holds its entry; a worker that dies lets it go after this. Longer than
  /// the target's own timeout.
  std::chrono::milliseconds lease{60'000};
  /// The longest a worker sleeps between looks at the store (other processes may add entries).
  std::chrono::milliseconds poll{500};
  /// How long stop() waits for attempts in flight before it leaves them to their leases.
  std::chrono::milliseconds drain{10'000};
  std::function<TimePoint()> clock;  ///< the wall clock by default
  std::function<double()> random;    ///< uniform in [0, 1); a good generator by default
  /// Called after each attempt, from the worker's threads (must not wait long; throws ignored).
  std::function<void(const AttemptReport&)> on_attempt;
  /// Called when the store fails (it is tried again after `poll`; throws ignored).
  std::function<void(const std::string&)> on_store_error;
};

/// Takes due entries from the store's queue and hands them to the target, `concurrency` at a
/// time, recording each outcome; retries after backoff, gives up into `dead`. Thread-safe.
class Worker {
 public:
  /// Throws std::invalid_argument without a store with a queue, a target, or a positive
  /// concurrency and lease.
  explicit Worker(WorkerOptions options);
  /// Stops the worker (as stop()); a run() on another thread returns on its own.
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// Works until stop(): then takes no new attempt, waits up to `drain` for those in flight,
  /// and returns (entries not finished stay queued; their leases run out).
  void run();
  /// Makes run() return as above. Safe from any thread, more than once.
  void stop();
  /// Says that an entry was just queued, so run() looks now rather than at its next poll.
  void wake();

  /// @name Entries leased by their producer (Store::claim_and_lease)
  /// A receiver that queues a delivery may lease it in the same step and hand it straight to an
  /// attempt: reserve() an attempt slot first (false when every slot is busy, or stopping: then
  /// queue it unleased, and wake()), then hand() the leased entry, or unreserve() the slot when
  /// no lease came of it (a duplicate, a store that leases nothing, a failure).
  ///@{
  [[nodiscard]] bool reserve();
  /// Attempts `leased` in the slot that reserve() gave. When stopping, it gives the lease back
  /// instead (Store::give_back): the entry is due at once for the next start.
  void hand(LeasedEntry leased);
  void unreserve();
  ///@}

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tykhook
