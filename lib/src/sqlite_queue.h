#pragma once

// Private to the library: the delivery queue of the SQLite store, one table beside the claims
// (sqlite_schema.h), which find its entries by key. Its owner (store_sqlite.cpp) serialises the
// calls and runs enqueue(), sweep() and finish() inside its group commit's transactions, take()
// and give_back() in transactions that skip the fsync; every other write is a write_transaction
// of its own.

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
  /// Prepares the statements; the tables are set up already (set_up_sqlite_schema).
  explicit SqliteQueue(const SqliteDb& db);

  /// The id that the next entry queued gets: the last one's and 1, inside the caller's
  /// transaction (which then assigns ids in turn; no other writer comes between).
  std::int64_t next_id();
  /// What enqueue did: whether it queued the entry (at the id given), and the token of its
  /// lease when it leased it.
  struct Enqueued {
    bool queued = false;
    std::optional<std::uint64_t> token;
  };
  /// Queues `entry` at `id` (pending, due at its `received`) for the claim of its key, which
  /// the caller has just won naming `named` (0: none), inside the caller's transaction; leased
  /// until `lease_until` when that is set (its first attempt counted). When `named` is another
  /// entry (the claim took over an expired one), one that waits is left as it is and nothing is
  /// queued; a done or dead one is replaced, and the claim names the new one.
  Enqueued enqueue(const QueueEntry& entry, std::int64_t id, std::int64_t named,
                   std::optional<TimePoint> lease_until);
  /// Deletes up to `batch` done and dead entries whose claim expired by `now_unix_ms`, inside
  /// the caller's transaction (which then deletes the claims). Returns the number deleted, or
  /// nullopt when it met a lock.
  std::optional<int> sweep(std::int64_t now_unix_ms, int batch);

  /// Leases up to `max` due entries, oldest due first, inside the caller's transaction.
  std::vector<LeasedEntry> take(TimePoint now, std::chrono::milliseconds lease, std::size_t max);
  /// Throws std::invalid_argument for a record that no attempt ends with (pending; retrying
  /// without a next attempt).
  static void check(const AttemptRecord& record);
  /// Records an attempt's end, inside the caller's transaction (the store's group commit).
  bool finish(std::string_view key, std::uint64_t token, const AttemptRecord& record);
  /// Ends the lease of `token` on entry `key` with no attempt counted, inside the caller's
  /// transaction. Returns false when the token no longer holds the entry.
  bool give_back(std::string_view key, std::uint64_t token);
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
  Statement next_id_;
  Statement insert_;
  Statement link_;
  Statement waits_;
  Statement delete_;
  Statement sweep_;
  Statement due_;
  Statement lease_;
  Statement finish_;
  Statement give_back_;
  Statement next_due_;
  Statement list_all_;
  Statement list_state_;
  Statement find_;
  Statement retry_;
  Statement drop_;
  Statement unlink_;
  Statement counts_;
  Statement oldest_waiting_;
};

}  // namespace tykhook::detail
