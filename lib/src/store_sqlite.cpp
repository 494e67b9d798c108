#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "group_commit.h"
#include "store_impl.h"
#include "tykhook/error.h"

namespace tykhook::detail {
namespace {

// Some lock conflicts come back at once instead of waiting in SQLite's busy handler (a stale
// WAL snapshot, recovery by another process): such a statement is tried again after a pause
// that grows, until the busy timeout has passed in all.
constexpr std::chrono::milliseconds busy_retry_pause{10};

// Expired keys are deleted at most this often, and at most this many at a time, so that a
// claim never waits for a long delete.
constexpr std::chrono::seconds sweep_interval{60};
constexpr int sweep_batch = 1000;

// One row per claimed key. Expiry is wall-clock Unix milliseconds, because several processes
// share the file and a steady clock means nothing across processes.
constexpr const char* schema_sql =
    "CREATE TABLE IF NOT EXISTS tykhook_claims ("
    "  key TEXT PRIMARY KEY NOT NULL,"
    "  expires_at INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS tykhook_claims_by_expiry ON tykhook_claims (expires_at);";

// One statement, so one atomic write: a new key is inserted, an expired one is taken over, a
// live one is left alone. changes() tells the three apart.
constexpr std::string_view claim_sql =
    "INSERT INTO tykhook_claims (key, expires_at) VALUES (?1, ?2) "
    "ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at "
    "WHERE tykhook_claims.expires_at <= ?3";
constexpr std::string_view release_sql = "DELETE FROM tykhook_claims WHERE key = ?1";
constexpr std::string_view size_sql = "SELECT count(*) FROM tykhook_claims WHERE expires_at > ?1";
constexpr std::string_view sweep_sql =
    "DELETE FROM tykhook_claims WHERE key IN "
    "(SELECT key FROM tykhook_claims WHERE expires_at <= ?1 LIMIT ?2)";

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool is_busy(int rc) {
  const int primary = rc & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

std::string_view hint(int rc) {
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return "free disk space";
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return "make the file, its directory and its -wal and -shm files writable";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return "the file is not a usable tykhook database; move it away and a new one is created";
    case SQLITE_CANTOPEN:
      return "check that the directory exists and is writable";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return "another process holds the database locked; look for a stuck process";
    case SQLITE_IOERR:
      return "check the disk and its file system";
    default:
      return "check the file";
  }
}

struct DbClose {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalize {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

class SqliteStore final : public Store {
 public:
  SqliteStore(std::string_view path, std::string uri, std::chrono::milliseconds busy_timeout)
      : uri_(std::move(uri)), busy_timeout_(busy_timeout) {
    sqlite3* db = nullptr;
    const int rc =
        sqlite3_open_v2(std::string(path).c_str(), &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    db_.reset(db);  // even a failed open allocates a handle that must be closed
    if (rc != SQLITE_OK) fail(rc, "cannot open");
    sqlite3_extended_result_codes(db_.get(), 1);
    sqlite3_busy_timeout(db_.get(), static_cast<int>(busy_timeout.count()));
    // SQLite falls back to read-only when the file is write-protected; say so now, not at
    // the first delivery.
    if (sqlite3_db_readonly(db_.get(), "main") == 1) fail(SQLITE_READONLY, "file is read-only");
    // WAL lets readers and one writer work at once across processes; synchronous=FULL syncs
    // the WAL at every commit, so a claim that returned true survives a crash.
    const std::string mode = query_text("PRAGMA journal_mode=WAL", "cannot set up");
    if (mode != "wal") {
      throw Error(where(uri_) + "journal mode is \"" + mode +
                  "\", not \"wal\"; use a file on a local disk (or memory: for no file)");
    }
    exec("PRAGMA synchronous=FULL", "cannot set up");
    exec(schema_sql, "cannot set up");
    claim_ = prepare(claim_sql);
    release_ = prepare(release_sql);
    size_ = prepare(size_sql);
    sweep_ = prepare(sweep_sql);
  }

  bool claim(std::string_view key, std::chrono::milliseconds ttl) override {
    check_ttl(ttl);
    // Group commit: with synchronous=FULL every commit waits for an fsync, so the claims of
    // concurrent deliveries share one transaction rather than queue for one fsync each. A
    // claim returns only once the transaction that holds it has committed.
    PendingClaim pending{key, ttl};
    group_.submit(pending, [this](std::vector<PendingClaim*>& batch) { commit(batch); });
    return pending.won;
  }

  void release(std::string_view key) override {
    const std::lock_guard lock(db_mutex_);
    bind_key(release_.get(), key);
    run(release_.get(), "cannot release a claim");
  }

  std::optional<std::size_t> size() const override {
    const std::lock_guard lock(db_mutex_);
    sqlite3_bind_int64(size_.get(), 1, unix_ms_now());
    const auto count = run(size_.get(), "cannot count the claims");
    return static_cast<std::size_t>(count.value_or(0));
  }

  bool durable() const override { return true; }

 private:
  struct PendingClaim {
    std::string_view key;
    std::chrono::milliseconds ttl;
    bool won = false;
  };

  // Records a batch of claims in one transaction, in their order (so of two claims of one key
  // in a batch, the first wins), and commits it. Throws tykhook::Error, with nothing recorded,
  // when any step fails: the batch's callers all answer 503 then, and nothing is lost.
  void commit(std::vector<PendingClaim*>& batch) {
    const std::lock_guard lock(db_mutex_);
    // BEGIN IMMEDIATE takes the write lock at once, waiting for other processes as long as
    // the busy timeout allows.
    exec("BEGIN IMMEDIATE", "cannot record a claim");
    try {
      const auto now = unix_ms_now();
      if (std::chrono::steady_clock::now() >= next_sweep_) sweep(now);
      const auto max = std::numeric_limits<std::int64_t>::max();
      for (PendingClaim* pending : batch) {
        const auto ttl = pending->ttl.count();
        bind_key(claim_.get(), pending->key);
        sqlite3_bind_int64(claim_.get(), 2, ttl > max - now ? max : now + ttl);
        sqlite3_bind_int64(claim_.get(), 3, now);
        run(claim_.get(), "cannot record a claim");
        pending->won = sqlite3_changes(db_.get()) == 1;
      }
      exec("COMMIT", "cannot record a claim");
    } catch (...) {
      // A failed COMMIT may have rolled back already; then there is nothing left to undo.
      if (sqlite3_get_autocommit(db_.get()) == 0) {
        sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
      }
      for (PendingClaim* pending : batch) pending->won = false;
      throw;
    }
  }

  [[noreturn]] void fail(int rc, std::string_view what) const {
    // A failure found here rather than returned by SQLite has no message in the connection.
    const bool has_message = db_ && sqlite3_errcode(db_.get()) != SQLITE_OK;
    const std::string detail = has_message ? sqlite3_errmsg(db_.get()) : sqlite3_errstr(rc);
    throw Error(where(uri_) + std::string(what) + ": " + detail + "; " + std::string(hint(rc)));
  }

  Statement prepare(std::string_view sql) const {
    sqlite3_stmt* statement = nullptr;
    const int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &statement, nullptr);
    Statement owned(statement);
    if (rc != SQLITE_OK) fail(rc, "cannot set up");
    return owned;
  }

  static void bind_key(sqlite3_stmt* statement, std::string_view key) {
    sqlite3_bind_text(statement, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
  }

  // Calls `attempt` again while it meets a lock, until the busy timeout has passed in all;
  // returns its last result code.
  template <class Attempt>
  int retry_while_busy(Attempt&& attempt) const {
    const auto deadline = std::chrono::steady_clock::now() + busy_timeout_;
    for (int tries = 1;; ++tries) {
      const int rc = attempt();
      if (!is_busy(rc) || std::chrono::steady_clock::now() >= deadline) return rc;
      std::this_thread::sleep_for(busy_retry_pause * tries);
    }
  }

  // Runs a statement of at most one row. Returns the first column of the row, if any.
  std::optional<std::int64_t> run(sqlite3_stmt* statement, std::string_view what) const {
    std::optional<std::int64_t> value;
    const int rc = retry_while_busy([&] {
      value.reset();
      int step = sqlite3_step(statement);
      if (step == SQLITE_ROW) {
        value = sqlite3_column_int64(statement, 0);
        step = sqlite3_step(statement);
      }
      sqlite3_reset(statement);
      return step;
    });
    if (rc != SQLITE_DONE) fail(rc, what);
    return value;
  }

  void exec(const char* sql, std::string_view what) const {
    const int rc =
        retry_while_busy([&] { return sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr); });
    if (rc != SQLITE_OK) fail(rc, what);
  }

  std::string query_text(std::string_view sql, std::string_view what) const {
    const auto statement = prepare(sql);
    std::string text;
    const int rc = retry_while_busy([&] {
      const int step = sqlite3_step(statement.get());
      if (step == SQLITE_ROW) {
        const auto* column = sqlite3_column_text(statement.get(), 0);
        text = column == nullptr ? "" : reinterpret_cast<const char*>(column);
      }
      sqlite3_reset(statement.get());
      return step;
    });
    if (rc != SQLITE_ROW) fail(rc, what);
    return text;
  }

  // Runs inside a claim's transaction, before its claims. A sweep that meets a lock is
  // skipped: the next claim tries again, and expired keys only cost space meanwhile (the claim
  // statement takes them over anyway).
  void sweep(std::int64_t now) {
    sqlite3_bind_int64(sweep_.get(), 1, now);
    sqlite3_bind_int(sweep_.get(), 2, sweep_batch);
    const int rc = sqlite3_step(sweep_.get());
    sqlite3_reset(sweep_.get());
    if (rc != SQLITE_DONE && !is_busy(rc)) fail(rc, "cannot delete expired claims");
    // A full batch suggests more: sweep again at the next claim.
    const bool more = rc == SQLITE_DONE && sqlite3_changes(db_.get()) == sweep_batch;
    next_sweep_ = std::chrono::steady_clock::now() +
                  (more ? std::chrono::steady_clock::duration::zero() : sweep_interval);
  }

  const std::string uri_;
  const std::chrono::milliseconds busy_timeout_;
  // One connection, used by one thread at a time: SQLite serialises writers anyway.
  mutable std::mutex db_mutex_;
  GroupCommit<PendingClaim> group_;
  std::unique_ptr<sqlite3, DbClose> db_;
  Statement claim_;
  Statement release_;
  Statement size_;
  Statement sweep_;
  std::chrono::steady_clock::time_point next_sweep_{};
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(std::string_view path, std::string uri,
                                         std::chrono::milliseconds busy_timeout) {
  return std::make_unique<SqliteStore>(path, std::move(uri), busy_timeout);
}

}  // namespace tykhook::detail
