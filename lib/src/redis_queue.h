#pragma once

// Private to the library: the delivery queue of the Redis store (DESIGN.md, "Handing deliveries
// on"), on a Redis Stream with a consumer group. Each multi-key step is one Lua script
// (redis_scripts.h). Every key, the claims' too, starts with `<prefix>{queue}:`: one hash tag,
// so that a script's keys share a Redis Cluster slot.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis_connection.h"
#include "tykhook/queue.h"

namespace tykhook::detail {

class RedisQueue {
 public:
  /// Works on `connections`, under `prefix` (the store's), as consumer `consumer` of the group.
  RedisQueue(RedisConnections& connections, std::string_view prefix, std::string consumer);
  /// Leaves the consumer group when this queue took from it and holds nothing in flight.
  ~RedisQueue();
  RedisQueue(const RedisQueue&) = delete;
  RedisQueue& operator=(const RedisQueue&) = delete;

  /// What every key of the queue and of the claims starts with: `<prefix>{queue}:`.
  [[nodiscard]] const std::string& base() const { return base_; }
  /// The name of the claim of `key`: `<prefix>{queue}:claim:<key>`.
  [[nodiscard]] std::string claim_name(std::string_view key) const;

  /// Claims entry.key with `token` for `ttl` and queues `entry`, in one step. `retried` tells
  /// that the connection failed and the step was sent again.
  bool claim_and_enqueue(const QueueEntry& entry, std::chrono::milliseconds ttl,
                         std::string_view token, bool* retried);
  std::vector<LeasedEntry> take(TimePoint now, std::chrono::milliseconds lease, std::size_t max);
  bool finish(std::string_view key, std::uint64_t token, const AttemptRecord& record);
  std::optional<TimePoint> next_due();
  std::vector<QueueEntry> list(std::optional<QueueState> state, std::size_t limit);
  std::optional<QueueEntry> find(std::string_view key);
  bool retry(std::string_view key, TimePoint now);
  bool drop(std::string_view key);
  QueueCounts counts();

 private:
  // The fixed keys and ARGV[1] (the base) first, then the claim and entry of `key` when given.
  Reply run(std::string_view what, const RedisScript& script, std::optional<std::string_view> key,
            const std::vector<std::string_view>& args, bool* retried = nullptr);
  // The entry of `key` from the fields (as the scripts' `fields` name them) in `reply`'s
  // elements from `first`.
  QueueEntry read_entry(const redisReply& reply, std::size_t first, std::string key) const;
  // An entry as the scripts return one: its key, then its fields.
  QueueEntry read_row(const redisReply& row) const;
  // The time that an exact time's digits in `reply` give; throws when they give none.
  TimePoint exact_time(const redisReply& reply) const;

  RedisConnections& connections_;
  const std::string base_;
  const std::string consumer_;
  std::vector<std::string> layout_;  // the fixed keys, in the scripts' order
  std::atomic<bool> took_{false};    // whether take() ran: the consumer may exist
};

}  // namespace tykhook::detail
