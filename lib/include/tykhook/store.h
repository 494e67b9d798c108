#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "tykhook/queue.h"

namespace tykhook {

/// An idempotency store: remembers the keys of deliveries already processed. Every method is
/// safe to call from many threads at once. Failures of the backing store (disk full, Redis
/// gone) throw tykhook::Error; the receiver answers them with 503 so that nothing is lost.
class Store {
 public:
  virtual ~Store() = default;
  /// Records `key` for `ttl` and returns true when this call is the first to see it (atomic).
  [[nodiscard]] virtual bool claim(std::string_view key, std::chrono::milliseconds ttl) = 0;
  /// Forgets `key`, so that a later claim of it wins again (a handler that failed).
  virtual void release(std::string_view key) = 0;
  /// The number of keys held, where that is cheap to know; nullopt otherwise.
  [[nodiscard]] virtual std::optional<std::size_t> size() const = 0;
  /// Whether a claim that returned true survives a crash of this process.
  [[nodiscard]] virtual bool durable() const = 0;
  /// Whether claim and release always return without waiting on a disk, a network or another
  /// process (an in-memory store). The receiver then serves deliveries on its event loop's
  /// thread, without handing them to a worker. The default, false, is always safe.
  [[nodiscard]] virtual bool never_waits() const { return false; }

  /// @name The delivery queue (DESIGN.md, "Handing deliveries on")
  /// Stores that hold one override all of these; the others throw tykhook::Error from each.
  /// Times are wall-clock (several processes share a store), passed in so tests drive them.
  ///@{
  /// Whether this store holds a delivery queue.
  [[nodiscard]] virtual bool has_queue() const { return false; }
  /// claim(entry.key, ttl), and when it wins, queues `entry` (pending, due at once) in the same
  /// atomic step: a crash never leaves a claim without its entry. The entry is kept until the
  /// claim expires. Returns whether the claim won.
  [[nodiscard]] virtual bool claim_and_enqueue(const QueueEntry& entry,
                                               std::chrono::milliseconds ttl);
  /// claim_and_enqueue(entry, ttl), and when the claim wins, may also lease the new entry until
  /// `lease_until` (a new token, its first attempt counted, as take() does) in the same atomic
  /// step: a receiver that attempts a delivery at once then needs no take. A lease that is
  /// never finished runs out as any other. The default leases nothing.
  [[nodiscard]] virtual ClaimedLease claim_and_lease(const QueueEntry& entry,
                                                     std::chrono::milliseconds ttl,
                                                     TimePoint lease_until);
  /// Leases up to `max` entries that are due at `now` (pending or retrying, next_attempt <= now,
  /// no lease running), oldest due first, each for `lease`, and counts the attempt.
  [[nodiscard]] virtual std::vector<LeasedEntry> take(TimePoint now,
                                                      std::chrono::milliseconds lease,
                                                      std::size_t max);
  /// Records how the attempt of `token` on entry `key` ended. Returns false, changing nothing,
  /// when the token no longer holds the entry (the lease ran out and it was taken again, or it
  /// was dropped or sent back meanwhile).
  virtual bool finish(std::string_view key, std::uint64_t token, const AttemptRecord& record);
  /// Ends the lease of `token` on entry `key` with no attempt made (a worker that stops before
  /// it starts one): the entry is due again at once, that attempt not counted. Returns false,
  /// changing nothing, when the token no longer holds the entry. The default changes nothing
  /// and returns false: the lease runs out as after a crash (Redis: a worker attempts every
  /// entry it took, so only a lease given by claim_and_lease, which Redis never gives, needs it).
  virtual bool give_back(std::string_view key, std::uint64_t token);
  /// When the next entry falls due: the earliest next_attempt of a pending or retrying entry,
  /// or the end of a running lease; nullopt when nothing waits.
  [[nodiscard]] virtual std::optional<TimePoint> next_due();
  /// The entries in `state` (every state when nullopt), newest received first, at most `limit`.
  [[nodiscard]] virtual std::vector<QueueEntry> list(std::optional<QueueState> state,
                                                     std::size_t limit);
  /// The entry of `key`, if queued.
  [[nodiscard]] virtual std::optional<QueueEntry> find(std::string_view key);
  /// Sends entry `key` back: pending, due at `now`, attempts from 0, `retried` = now (its lease,
  /// if one runs, no longer counts). Returns false when there is no such entry.
  virtual bool retry(std::string_view key, TimePoint now);
  /// Removes entry `key` from the queue (its claim stays). Returns false when there is none.
  virtual bool drop(std::string_view key);
  /// How many entries are in each state.
  [[nodiscard]] virtual QueueCounts counts();
  ///@}
};

/// Settings of open_store that a URI does not carry; the defaults suit the receiver.
struct StoreOptions {
  /// The most keys a `memory:` store holds; when full, the key that expires first goes first.
  std::size_t memory_max_keys = 100'000;
  /// How long a SQLite claim waits for other processes' locks before it throws tykhook::Error.
  std::chrono::milliseconds sqlite_busy_timeout{5'000};
  /// How long a Redis connect, or one Redis command, may take before it counts as failed.
  std::chrono::milliseconds redis_timeout{2'000};
};

/// Opens a store from a URI: `memory:`, `sqlite:PATH` or `redis://HOST:PORT[/DB]` (the Redis
/// password comes from the environment variable TYKHOOK_REDIS_PASSWORD). Throws tykhook::Error
/// naming the URI (never a password) when it is malformed or the store cannot be reached.
/// `redis://HOST:PORT[/DB]?prefix=P` puts keys under P (default `tykhook:`), taken literally.
[[nodiscard]] std::unique_ptr<Store> open_store(std::string_view uri);

/// Opens a store from a URI as above, with settings that the URI does not carry.
[[nodiscard]] std::unique_ptr<Store> open_store(std::string_view uri, const StoreOptions& options);

}  // namespace tykhook
