#include "sqlite_db.h"

#include <chrono>
#include <string>
#include <string_view>
#include <thread>

#include "store_impl.h"
#include "tykhook/error.h"

namespace tykhook::detail {
namespace {

// Some lock conflicts come back at once instead of waiting in SQLite's busy handler (a stale
// WAL snapshot, recovery by another process): such a statement is tried again after a pause
// that grows, until the busy timeout has passed in all.
constexpr std::chrono::milliseconds busy_retry_pause{10};

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

}  // namespace

bool is_busy(int rc) {
  const int primary = rc & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

SqliteDb::SqliteDb(std::string_view path, std::string uri, std::chrono::milliseconds busy_timeout)
    : uri_(std::move(uri)), busy_timeout_(busy_timeout) {
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(std::string(path).c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  db_.reset(db);  // even a failed open allocates a handle that must be closed
  if (rc != SQLITE_OK) fail(rc, "cannot open");
  sqlite3_extended_result_codes(db_.get(), 1);
  sqlite3_busy_timeout(db_.get(), static_cast<int>(busy_timeout.count()));
  // SQLite falls back to read-only when the file is write-protected; say so now, not at the
  // first delivery.
  if (sqlite3_db_readonly(db_.get(), "main") == 1) fail(SQLITE_READONLY, "file is read-only");
  // WAL lets readers and one writer work at once across processes; synchronous=FULL syncs the
  // WAL at every commit, so a claim that returned true survives a crash (write_transaction).
  const std::string mode = query_text("PRAGMA journal_mode=WAL", "cannot set up");
  if (mode != "wal") {
    throw Error(where(uri_) + "journal mode is \"" + mode +
                "\", not \"wal\"; use a file on a local disk (or memory: for no file)");
  }
  set_synchronous(true, "cannot set up");
  begin_ = prepare("BEGIN IMMEDIATE");
  commit_ = prepare("COMMIT");
}

void SqliteDb::fail(int rc, std::string_view what) const {
  // A failure found here rather than returned by SQLite has no message in the connection.
  const bool has_message = db_ && sqlite3_errcode(db_.get()) != SQLITE_OK;
  const std::string detail = has_message ? sqlite3_errmsg(db_.get()) : sqlite3_errstr(rc);
  throw Error(where(uri_) + std::string(what) + ": " + detail + "; " + std::string(hint(rc)));
}

Statement SqliteDb::prepare(std::string_view sql) const {
  sqlite3_stmt* statement = nullptr;
  const int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &statement, nullptr);
  Statement owned(statement);
  if (rc != SQLITE_OK) fail(rc, "cannot set up");
  return owned;
}

std::optional<std::int64_t> SqliteDb::run(sqlite3_stmt* statement, std::string_view what) const {
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

void SqliteDb::exec(const char* sql, std::string_view what) const {
  const int rc =
      retry_while_busy([&] { return sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr); });
  if (rc != SQLITE_OK) fail(rc, what);
}

std::string SqliteDb::query_text(std::string_view sql, std::string_view what) const {
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

void SqliteDb::set_synchronous(bool full, std::string_view what) const {
  if (full == full_sync_) return;
  // NORMAL rather than OFF: in WAL mode, NORMAL still syncs the log before a checkpoint copies
  // it into the file and the file after, so a checkpoint that an unsynced commit runs never
  // leaves a synced commit only in pages that are not on the disk.
  exec(full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", what);
  full_sync_ = full;
}

void SqliteDb::pause(int tries) { std::this_thread::sleep_for(busy_retry_pause * tries); }

void SqliteDb::rollback() const {
  // A failed COMMIT may have rolled back already; then there is nothing left to undo.
  if (sqlite3_get_autocommit(db_.get()) == 0) {
    sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

void bind_text(sqlite3_stmt* statement, int index, std::string_view text) {
  sqlite3_bind_text(statement, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

void bind_blob(sqlite3_stmt* statement, int index, std::string_view bytes) {
  // A zero-length blob, not NULL, for empty bytes: a data pointer that is never null.
  sqlite3_bind_blob(statement, index, bytes.empty() ? "" : bytes.data(),
                    static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
}

std::string column_bytes(sqlite3_stmt* statement, int index) {
  const auto* data = static_cast<const char*>(sqlite3_column_blob(statement, index));
  const int size = sqlite3_column_bytes(statement, index);
  return data == nullptr ? std::string() : std::string(data, static_cast<std::size_t>(size));
}

}  // namespace tykhook::detail
