#pragma once

// Private to the library: the delivery queue of the SQLite store, one table beside the claims.
// Its owner (store_sqlite.cpp) serialises the calls and runs enqueue(), sweep() and finish()
// inside its group commit's transactions, take() in a transaction that skips the fsync; every
// other call is its own transaction.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "sqlite_db.h"
#include "tykhook/queue.h"

namespace tykhook::detail {

class SqliteQueue {
 public:
  /// Creates the table and its indexes where they are missing (a file from before the queue
  /// gains them), and prepares the statements.
  explicit SqliteQueue(const SqliteDb& db);

  /// Queues `entry` (pending, due at its `received`) to go with a claim that expires at
  /// `expires_unix_ms`, leased until `lease_until` when that is set (its first attempt
  /// counted). A done or dead entry of the same key is replaced; a waiting one is left as it
  /// is. Runs inside the caller's transaction. Returns the lease's token when it leased the
  /// entry (not when one of the key was waiting already).
  std::optional<std::uint64_t> enqueue(const QueueEntry& entry, std::int64_t expires_unix_ms,
                                       std::optional<TimePoint> lease_until = std::nullopt);
  /// Deletes up to `batch` done and dead entries whose claim expired by `now_unix_ms`, inside
  /// the caller's transaction. Returns the number deleted, or nullopt when it met a lock.
  std::optional<int> sweep(std::int64_t now_unix_ms, int batch);

  /// Leases up to `max` due entries, oldest due first, inside the caller's transaction.
  std::vector<LeasedEntry> take(TimePoint now, std::chrono::milliseconds lease, std::size_t max);
  /// Throws std::invalid_argument for a record that no attempt ends with (pending; retrying
  /// without a next attempt).
  static void check(const AttemptRecord& record);
  /// Records an attempt's end, inside the caller's transaction (the store's group commit).
  bool finish(std::string_view key, std::uint64_t token, const AttemptRecord& record);
  std::optional<TimePoint> next_due();
  std::vector<QueueEntry> list(std::optional<QueueState> state, std::size_t limit);
  std::optional<QueueEntry> find(std::string_view key);
  bool retry(std::string_view key, TimePoint now);
  bool drop(std::string_view key);
  QueueCounts counts();

 private:
  /// A random lease token.
  static std::int64_t new_token();
  QueueEntry read_entry(sqlite3_stmt* statement) const;
  /// Steps `statement` to its end, calling `row` for each row; resets it.
  template <class Row>
  void each_row(sqlite3_stmt* statement, std::string_view what, Row&& row);

  const SqliteDb& db_;
  Statement enqueue_;
  Statement sweep_;
  Statement due_;
  Statement lease_;
  Statement finish_;
  Statement next_due_;
  Statement list_all_;
  Statement list_state_;
  Statement find_;
  Statement retry_;
  Statement drop_;
  Statement counts_;
  Statement oldest_waiting_;
};

}  // namespace tykhook::detail
