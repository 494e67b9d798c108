#include "sqlite_queue.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "header_blob.h"
#include "store_impl.h"
#include "tykhook/error.h"

namespace tykhook::detail {
namespace {

// The table and its index are in sqlite_schema.cpp. An entry is found by key through its claim
// (tykhook_claims.entry): the queue has no index of its own by key. The entry's own copy of the
// key must match too, so that a claim that names an id it no longer owns (a later entry may get
// an id back once its row is gone) never reaches another delivery's entry.
#define TYKHOOK_ENTRY_OF_KEY "id = (SELECT entry FROM tykhook_claims WHERE key = ?1) AND key = ?1"

// The columns that read_entry reads, in its order; a take's id comes after them.
#define TYKHOOK_ENTRY_COLUMNS                                                            \
  "key, event, method, target, headers, body, received, state, attempts, next_attempt, " \
  "last_error, retried"
constexpr int id_column = 12;

// At the id that the claim names (?11); leased at once (?8, ?9, ?10: its first attempt, the
// lease's end and token) or not (0, NULL, NULL).
constexpr std::string_view next_id_sql =
    "SELECT coalesce(max(id), 0) + 1 FROM tykhook_queue_entries";
constexpr std::string_view insert_sql =
    "INSERT INTO tykhook_queue_entries (key, event, method, target, headers, body, received, "
    "state, attempts, next_attempt, lease_until, token, id) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?7, ?9, ?10, ?11)";
constexpr std::string_view link_sql = "UPDATE tykhook_claims SET entry = ?2 WHERE key = ?1";
// A claim won over an expired one that names an entry: the entry waits still (1), is done or
// dead (0, and goes, to be queued afresh), or is gone (no row).
constexpr std::string_view waits_sql =
    "SELECT state IN ('pending', 'retrying') FROM tykhook_queue_entries WHERE id = ?1 "
    "AND key = ?2";
constexpr std::string_view delete_sql =
    "DELETE FROM tykhook_queue_entries WHERE id = ?1 AND key = ?2";
// Done and dead entries whose claim expired; the store's sweep then deletes the claims that
// name no entry.
constexpr std::string_view sweep_sql =
    "DELETE FROM tykhook_queue_entries WHERE id IN (SELECT c.entry FROM tykhook_claims AS c "
    "JOIN tykhook_queue_entries AS q ON q.id = c.entry AND q.key = c.key "
    "WHERE c.expires_at <= ?1 AND q.state IN ('done', 'dead') LIMIT ?2)";
// The due and next_due statements ask for one waiting state at a time (`state = ?`), and run
// once for each: with `state IN ('pending', 'retrying')` SQLite builds a temporary B-tree for
// the two values, and another to sort the rows of both by next_attempt, at every take.
constexpr QueueState waiting_states[] = {QueueState::pending, QueueState::retrying};

// A take is two steps: the entries due, oldest due first, then a lease for each, by id. (One
// UPDATE ... WHERE id IN (SELECT ...) RETURNING built two temporary tables per take, and cost
// as much as the rest of a delivery together: bench/queue_cycle_bench.)
constexpr std::string_view due_sql =
    "SELECT " TYKHOOK_ENTRY_COLUMNS
    ", id FROM tykhook_queue_entries "
    "WHERE state = ?3 AND next_attempt <= ?1 "
    "AND (lease_until IS NULL OR lease_until <= ?1) ORDER BY next_attempt LIMIT ?2";
constexpr std::string_view lease_sql =
    "UPDATE tykhook_queue_entries SET lease_until = ?2, token = ?3, attempts = attempts + 1 "
    "WHERE id = ?1";
constexpr std::string_view finish_sql =
    "UPDATE tykhook_queue_entries SET state = ?3, next_attempt = ?4, last_error = ?5, "
    "lease_until = NULL, token = NULL WHERE " TYKHOOK_ENTRY_OF_KEY " AND token = ?2";
constexpr std::string_view give_back_sql =
    "UPDATE tykhook_queue_entries SET lease_until = NULL, token = NULL, "
    "attempts = max(attempts - 1, 0) WHERE " TYKHOOK_ENTRY_OF_KEY " AND token = ?2";
constexpr std::string_view next_due_sql =
    "SELECT min(max(next_attempt, coalesce(lease_until, next_attempt))) "
    "FROM tykhook_queue_entries WHERE state = ?1";
// Newest received first, then by key, as the other stores list. The index orders by state, not
// by arrival: the inner query finds, from the index alone, the arrival of the last entry shown,
// and only the entries from there on are read (all of them at a tie, so the order by key is
// exact).
constexpr std::string_view list_all_sql =
    "SELECT " TYKHOOK_ENTRY_COLUMNS
    " FROM tykhook_queue_entries "
    "WHERE received >= coalesce((SELECT received FROM tykhook_queue_entries "
    "ORDER BY received DESC LIMIT 1 OFFSET ?1 - 1), -9223372036854775807 - 1) "
    "ORDER BY received DESC, key LIMIT ?1";
constexpr std::string_view list_state_sql =
    "SELECT " TYKHOOK_ENTRY_COLUMNS
    " FROM tykhook_queue_entries "
    "WHERE state = ?2 AND received >= coalesce((SELECT received FROM tykhook_queue_entries "
    "WHERE state = ?2 ORDER BY received DESC LIMIT 1 OFFSET ?1 - 1), -9223372036854775807 - 1) "
    "ORDER BY received DESC, key LIMIT ?1";
constexpr std::string_view find_sql =
    "SELECT " TYKHOOK_ENTRY_COLUMNS " FROM tykhook_queue_entries WHERE " TYKHOOK_ENTRY_OF_KEY;
constexpr std::string_view retry_sql =
    "UPDATE tykhook_queue_entries SET state = 'pending', attempts = 0, next_attempt = ?2, "
    "retried = ?2, lease_until = NULL, token = NULL "
    "WHERE " TYKHOOK_ENTRY_OF_KEY;
constexpr std::string_view drop_sql =
    "DELETE FROM tykhook_queue_entries WHERE " TYKHOOK_ENTRY_OF_KEY;
// The claim stays, and names no entry: a later entry may get the id back.
constexpr std::string_view unlink_sql = "UPDATE tykhook_claims SET entry = NULL WHERE key = ?1";
constexpr std::string_view counts_sql =
    "SELECT state, count(*) FROM tykhook_queue_entries GROUP BY state";
constexpr std::string_view oldest_waiting_sql =
    "SELECT min(received) FROM tykhook_queue_entries WHERE state IN ('pending', 'retrying')";

#undef TYKHOOK_ENTRY_COLUMNS
#undef TYKHOOK_ENTRY_OF_KEY

std::int64_t nanoseconds(TimePoint t) { return t.time_since_epoch().count(); }
TimePoint time_point(std::int64_t ns) { return TimePoint(std::chrono::nanoseconds(ns)); }

std::optional<std::int64_t> column_int(sqlite3_stmt* statement, int index) {
  if (sqlite3_column_type(statement, index) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(statement, index);
}

void bind_time(sqlite3_stmt* statement, int index, std::optional<TimePoint> t) {
  if (t) {
    sqlite3_bind_int64(statement, index, nanoseconds(*t));
  } else {
    sqlite3_bind_null(statement, index);
  }
}

}  // namespace

SqliteQueue::SqliteQueue(const SqliteDb& db) : db_(db) {
  next_id_ = db_.prepare(next_id_sql);
  insert_ = db_.prepare(insert_sql);
  link_ = db_.prepare(link_sql);
  waits_ = db_.prepare(waits_sql);
  delete_ = db_.prepare(delete_sql);
  sweep_ = db_.prepare(sweep_sql);
  due_ = db_.prepare(due_sql);
  lease_ = db_.prepare(lease_sql);
  finish_ = db_.prepare(finish_sql);
  give_back_ = db_.prepare(give_back_sql);
  next_due_ = db_.prepare(next_due_sql);
  list_all_ = db_.prepare(list_all_sql);
  list_state_ = db_.prepare(list_state_sql);
  find_ = db_.prepare(find_sql);
  retry_ = db_.prepare(retry_sql);
  drop_ = db_.prepare(drop_sql);
  unlink_ = db_.prepare(unlink_sql);
  counts_ = db_.prepare(counts_sql);
  oldest_waiting_ = db_.prepare(oldest_waiting_sql);
}

std::int64_t SqliteQueue::new_token() {
  std::int64_t token = 0;
  sqlite3_randomness(sizeof token, &token);
  return token;
}

std::int64_t SqliteQueue::next_id() {
  return db_.run(next_id_.get(), "cannot queue a delivery").value_or(1);
}

SqliteQueue::Enqueued SqliteQueue::enqueue(const QueueEntry& entry, std::int64_t id,
                                           std::int64_t named,
                                           std::optional<TimePoint> lease_until) {
  if (named != id) {
    // The claim took over an expired one that names an entry. One that waits keeps its state
    // (and is attempted in its turn); a done or dead one goes, and the delivery is queued
    // afresh, at the end.
    if (named != 0) {
      sqlite3_bind_int64(waits_.get(), 1, named);
      bind_text(waits_.get(), 2, entry.key);
      if (db_.run(waits_.get(), "cannot queue a delivery").value_or(0) == 1) return {};
      sqlite3_bind_int64(delete_.get(), 1, named);
      bind_text(delete_.get(), 2, entry.key);
      db_.run(delete_.get(), "cannot queue a delivery");
    }
    bind_text(link_.get(), 1, entry.key);
    sqlite3_bind_int64(link_.get(), 2, id);
    db_.run(link_.get(), "cannot queue a delivery");
  }
  sqlite3_stmt* statement = insert_.get();
  const std::int64_t token = lease_until ? new_token() : 0;
  sqlite3_bind_int(statement, 8, lease_until ? 1 : 0);
  bind_time(statement, 9, lease_until);
  if (lease_until) {
    sqlite3_bind_int64(statement, 10, token);
  } else {
    sqlite3_bind_null(statement, 10);
  }
  bind_text(statement, 1, entry.key);
  bind_text(statement, 2, entry.event);
  bind_text(statement, 3, entry.request.method);
  bind_text(statement, 4, entry.request.target);
  bind_blob(statement, 5, encode_headers(entry.request.headers));
  bind_blob(statement, 6, entry.request.body);
  sqlite3_bind_int64(statement, 7, nanoseconds(entry.received));
  sqlite3_bind_int64(statement, 11, id);
  db_.run(statement, "cannot queue a delivery");
  Enqueued queued{.queued = true};
  if (lease_until) queued.token = static_cast<std::uint64_t>(token);
  return queued;
}

std::optional<int> SqliteQueue::sweep(std::int64_t now_unix_ms, int batch) {
  sqlite3_bind_int64(sweep_.get(), 1, now_unix_ms);
  sqlite3_bind_int(sweep_.get(), 2, batch);
  const int rc = sqlite3_step(sweep_.get());
  sqlite3_reset(sweep_.get());
  if (is_busy(rc)) return std::nullopt;
  if (rc != SQLITE_DONE) db_.fail(rc, "cannot delete expired queue entries");
  return sqlite3_changes(db_.handle());
}

template <class Row>
void SqliteQueue::each_row(sqlite3_stmt* statement, std::string_view what, Row&& row) {
  int rc = SQLITE_ROW;
  try {
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) row(statement);
  } catch (...) {
    sqlite3_reset(statement);
    throw;
  }
  sqlite3_reset(statement);
  if (rc != SQLITE_DONE) db_.fail(rc, what);
}

QueueEntry SqliteQueue::read_entry(sqlite3_stmt* statement) const {
  QueueEntry entry;
  entry.key = column_bytes(statement, 0);
  entry.event = column_bytes(statement, 1);
  entry.request.method = column_bytes(statement, 2);
  entry.request.target = column_bytes(statement, 3);
  auto headers = decode_headers(column_bytes(statement, 4));
  if (!headers) {
    throw Error(where(db_.uri()) + "queue entry " + entry.key +
                " has headers that cannot be read; drop it (tykhook queue drop) or move the "
                "file away");
  }
  entry.request.headers = std::move(*headers);
  entry.request.body = column_bytes(statement, 5);
  entry.received = time_point(sqlite3_column_int64(statement, 6));
  const auto state = parse_queue_state(column_bytes(statement, 7));
  if (!state) {
    throw Error(where(db_.uri()) + "queue entry " + entry.key +
                " has an unknown state; drop it (tykhook queue drop) or move the file away");
  }
  entry.state = *state;
  entry.attempts = static_cast<unsigned>(sqlite3_column_int64(statement, 8));
  if (const auto next = column_int(statement, 9)) entry.next_attempt = time_point(*next);
  if (sqlite3_column_type(statement, 10) != SQLITE_NULL) {
    entry.last_error = column_bytes(statement, 10);
  }
  if (const auto retried = column_int(statement, 11)) entry.retried = time_point(*retried);
  return entry;
}

std::vector<LeasedEntry> SqliteQueue::take(TimePoint now, std::chrono::milliseconds lease,
                                           std::size_t max) {
  std::vector<LeasedEntry> taken;
  if (max == 0) return taken;
  const auto until = now + std::chrono::duration_cast<std::chrono::nanoseconds>(lease);
  const auto most = std::min<std::size_t>(max, std::numeric_limits<int>::max());
  struct Due {
    LeasedEntry leased;
    std::int64_t id;
  };
  std::vector<Due> due;
  for (const QueueState state : waiting_states) {
    sqlite3_bind_int64(due_.get(), 1, nanoseconds(now));
    sqlite3_bind_int64(due_.get(), 2, static_cast<std::int64_t>(most));
    bind_text(due_.get(), 3, to_string(state));
    each_row(due_.get(), "cannot take queued deliveries", [&](sqlite3_stmt* row) {
      due.push_back({{read_entry(row), 0}, sqlite3_column_int64(row, id_column)});
    });
  }
  // Oldest due first over both states, as the memory store does, and no more than asked for.
  std::stable_sort(due.begin(), due.end(), [](const Due& a, const Due& b) {
    return a.leased.entry.next_attempt < b.leased.entry.next_attempt;
  });
  if (due.size() > most) due.resize(most);
  // The caller's write transaction holds the lock: no other writer comes between the two
  // steps. Each lease gets a new random token, and counts the attempt.
  taken.reserve(due.size());
  for (Due& each : due) {
    const std::int64_t token = new_token();
    sqlite3_bind_int64(lease_.get(), 1, each.id);
    sqlite3_bind_int64(lease_.get(), 2, nanoseconds(until));
    sqlite3_bind_int64(lease_.get(), 3, token);
    db_.run(lease_.get(), "cannot take queued deliveries");
    each.leased.token = static_cast<std::uint64_t>(token);
    ++each.leased.entry.attempts;
    taken.push_back(std::move(each.leased));
  }
  return taken;
}

void SqliteQueue::check(const AttemptRecord& record) {
  if (record.state == QueueState::pending) {
    throw std::invalid_argument("Store::finish: an attempt ends done, retrying or dead");
  }
  if (record.state == QueueState::retrying && !record.next_attempt) {
    throw std::invalid_argument("Store::finish: a retrying record needs its next_attempt");
  }
}

bool SqliteQueue::finish(std::string_view key, std::uint64_t token, const AttemptRecord& record) {
  check(record);
  sqlite3_stmt* statement = finish_.get();
  bind_text(statement, 1, key);
  sqlite3_bind_int64(statement, 2, static_cast<std::int64_t>(token));
  bind_text(statement, 3, to_string(record.state));
  bind_time(statement, 4,
            record.state == QueueState::retrying ? record.next_attempt : std::nullopt);
  if (record.error) {
    bind_text(statement, 5, *record.error);
  } else {
    sqlite3_bind_null(statement, 5);
  }
  db_.run(statement, "cannot record an attempt");
  return sqlite3_changes(db_.handle()) == 1;
}

bool SqliteQueue::give_back(std::string_view key, std::uint64_t token) {
  bind_text(give_back_.get(), 1, key);
  sqlite3_bind_int64(give_back_.get(), 2, static_cast<std::int64_t>(token));
  db_.run(give_back_.get(), "cannot give a lease back");
  return sqlite3_changes(db_.handle()) == 1;
}

std::optional<TimePoint> SqliteQueue::next_due() {
  std::optional<TimePoint> due;
  for (const QueueState state : waiting_states) {
    bind_text(next_due_.get(), 1, to_string(state));
    each_row(next_due_.get(), "cannot read the queue", [&](sqlite3_stmt* row) {
      if (const auto ns = column_int(row, 0)) {
        if (!due || time_point(*ns) < *due) due = time_point(*ns);
      }
    });
  }
  return due;
}

std::vector<QueueEntry> SqliteQueue::list(std::optional<QueueState> state, std::size_t limit) {
  if (limit == 0) return {};
  sqlite3_stmt* statement = state ? list_state_.get() : list_all_.get();
  const auto most = std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max());
  sqlite3_bind_int64(statement, 1, static_cast<std::int64_t>(most));
  if (state) bind_text(statement, 2, to_string(*state));
  std::vector<QueueEntry> entries;
  each_row(statement, "cannot list the queue",
           [&](sqlite3_stmt* row) { entries.push_back(read_entry(row)); });
  return entries;
}

std::optional<QueueEntry> SqliteQueue::find(std::string_view key) {
  bind_text(find_.get(), 1, key);
  std::optional<QueueEntry> entry;
  each_row(find_.get(), "cannot read the queue",
           [&](sqlite3_stmt* row) { entry = read_entry(row); });
  return entry;
}

bool SqliteQueue::retry(std::string_view key, TimePoint now) {
  bool sent_back = false;
  db_.write_transaction("cannot send a queued delivery back", [&] {
    bind_text(retry_.get(), 1, key);
    sqlite3_bind_int64(retry_.get(), 2, nanoseconds(now));
    db_.run(retry_.get(), "cannot send a queued delivery back");
    sent_back = sqlite3_changes(db_.handle()) == 1;
  });
  return sent_back;
}

bool SqliteQueue::drop(std::string_view key) {
  // One transaction: a claim never names an id that a later entry may get.
  bool dropped = false;
  db_.write_transaction("cannot drop a queued delivery", [&] {
    bind_text(drop_.get(), 1, key);
    db_.run(drop_.get(), "cannot drop a queued delivery");
    dropped = sqlite3_changes(db_.handle()) == 1;
    if (!dropped) return;
    bind_text(unlink_.get(), 1, key);
    db_.run(unlink_.get(), "cannot drop a queued delivery");
  });
  return dropped;
}

QueueCounts SqliteQueue::counts() {
  QueueCounts counts;
  each_row(counts_.get(), "cannot count the queue", [&](sqlite3_stmt* row) {
    const auto state = parse_queue_state(column_bytes(row, 0));
    const auto count = static_cast<std::size_t>(sqlite3_column_int64(row, 1));
    if (!state) return;
    switch (*state) {
      case QueueState::pending:
        counts.pending = count;
        break;
      case QueueState::retrying:
        counts.retrying = count;
        break;
      case QueueState::done:
        counts.done = count;
        break;
      case QueueState::dead:
        counts.dead = count;
        break;
    }
  });
  each_row(oldest_waiting_.get(), "cannot count the queue", [&](sqlite3_stmt* row) {
    if (const auto ns = column_int(row, 0)) counts.oldest_waiting = time_point(*ns);
  });
  return counts;
}

}  // namespace tykhook::detail
