#pragma once

// Private to the library: one SQLite connection of the store, with the few steps every
// statement of the store goes through (prepare, run, retry while another process holds a
// lock, and an error message that names the store and says what to do).

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace tykhook::detail {

struct StmtFinalize {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
/// A prepared statement, finalized when it goes.
using Statement = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

/// Whether `rc` says that another connection holds a lock.
[[nodiscard]] bool is_busy(int rc);

/// An open database in WAL mode, every write in a transaction that says whether its commit waits
/// for the disk. Not safe for concurrent use: its owner serialises the calls.
class SqliteDb {
 public:
  /// Opens (creating if needed) the file at `path`. `uri` is what messages name. Throws
  /// tykhook::Error when the file cannot be opened or set up.
  SqliteDb(std::string_view path, std::string uri, std::chrono::milliseconds busy_timeout);

  sqlite3* handle() const { return db_.get(); }
  /// The URI that messages name.
  const std::string& uri() const { return uri_; }

  /// Throws tykhook::Error: `store "URI": WHAT: SQLite's message; what to do`.
  [[noreturn]] void fail(int rc, std::string_view what) const;
  Statement prepare(std::string_view sql) const;
  /// Runs a statement of at most one row, retrying while it meets a lock. Returns the first
  /// column of the row, if any.
  std::optional<std::int64_t> run(sqlite3_stmt* statement, std::string_view what) const;
  /// Runs `sql` (one or more statements), retrying while it meets a lock.
  void exec(const char* sql, std::string_view what) const;
  /// The first column of the first row of `sql`, as text.
  std::string query_text(std::string_view sql, std::string_view what) const;
  /// Calls `step` (which steps and resets a statement) again while it meets a lock, until the
  /// busy timeout has passed in all; returns its last result code.
  template <class Step>
  int retry_while_busy(Step&& step) const {
    const auto deadline = std::chrono::steady_clock::now() + busy_timeout_;
    for (int tries = 1;; ++tries) {
      const int rc = step();
      if (!is_busy(rc) || std::chrono::steady_clock::now() >= deadline) return rc;
      pause(tries);
    }
  }

  /// Runs `body` in a transaction that holds the write lock from its start (BEGIN IMMEDIATE),
  /// and commits it with synchronous=FULL: the commit returns once the log is on the disk.
  /// Rolls back and rethrows when anything in it throws. Every write that is not an
  /// unsynced_write_transaction goes through here.
  template <class Body>
  void write_transaction(std::string_view what, Body&& body) const {
    set_synchronous(true, what);
    transaction(what, std::forward<Body>(body));
  }

  /// Runs `body` as write_transaction does, with synchronous=NORMAL: its commit does not wait
  /// for an fsync, and the next synchronous commit syncs the log with it, in order (a
  /// checkpoint syncs it too, before it copies the log into the file). Only for writes whose
  /// loss in a crash of the machine (not of the process: the log is in the page cache) costs
  /// nothing worse than an entry attempted again.
  template <class Body>
  void unsynced_write_transaction(std::string_view what, Body&& body) const {
    set_synchronous(false, what);
    transaction(what, std::forward<Body>(body));
  }

 private:
  struct DbClose {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  static void pause(int tries);
  void rollback() const;
  /// Sets synchronous=FULL (`full`) or NORMAL, unless it is so already: a PRAGMA synchronous
  /// is compiled at each switch, which costs more than the statements of a small transaction.
  void set_synchronous(bool full, std::string_view what) const;
  template <class Body>
  void transaction(std::string_view what, Body&& body) const {
    run(begin_.get(), what);
    try {
      body();
      run(commit_.get(), what);
    } catch (...) {
      rollback();
      throw;
    }
  }

  std::string uri_;
  std::chrono::milliseconds busy_timeout_;
  std::unique_ptr<sqlite3, DbClose> db_;
  // The statements that open and close every transaction, prepared once rather than compiled
  // again for each (bench/queue_cycle_bench). Not the PRAGMAs: a PRAGMA synchronous takes
  // effect when it is compiled, so a prepared one run again would change nothing.
  Statement begin_;
  Statement commit_;
  mutable bool full_sync_ = false;  // the synchronous setting in force: FULL, or NORMAL
};

/// Binds `text` to parameter `index` as TEXT (copied).
void bind_text(sqlite3_stmt* statement, int index, std::string_view text);
/// Binds `bytes` to parameter `index` as a BLOB (copied).
void bind_blob(sqlite3_stmt* statement, int index, std::string_view bytes);
/// The bytes of column `index` (TEXT or BLOB) of the current row.
[[nodiscard]] std::string column_bytes(sqlite3_stmt* statement, int index);

}  // namespace tykhook::detail
