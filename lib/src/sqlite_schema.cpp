#include "sqlite_schema.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "store_impl.h"
#include "tykhook/error.h"

namespace tykhook::detail {
namespace {

// One row per claimed key. Expiry is wall-clock Unix milliseconds, because several processes
// share the file and a steady clock means nothing across processes. `entry` is the rowid of
// the key's queue entry, or NULL.
constexpr const char* claims_sql =
    "CREATE TABLE IF NOT EXISTS tykhook_claims ("
    "  key TEXT PRIMARY KEY NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  entry INTEGER"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS tykhook_claims_by_expiry ON tykhook_claims (expires_at);";

// One row per queued delivery, its rowid in the order queued. Times are Unix nanoseconds, so a
// TimePoint round-trips exactly. The request's headers and body are BLOBs, byte for byte, and
// come last, so that reading the state of a row never reads a long body. lease_until and
// token are set while an attempt holds the entry; the token fences a finish against a later
// take. `key` is a copy of the claim's, for reading; the claim is the index by key. The one
// index serves take (state, next_attempt), counts, the oldest waiting entry and list
// (received): every new entry joins it at the end of its state's range.
constexpr const char* entries_sql =
    "CREATE TABLE IF NOT EXISTS tykhook_queue_entries ("
    "  id INTEGER PRIMARY KEY,"
    "  state TEXT NOT NULL,"
    "  next_attempt INTEGER,"
    "  received INTEGER NOT NULL,"
    "  attempts INTEGER NOT NULL,"
    "  lease_until INTEGER,"
    "  token INTEGER,"
    "  retried INTEGER,"
    "  last_error TEXT,"
    "  key TEXT NOT NULL,"
    "  event TEXT NOT NULL,"
    "  method TEXT NOT NULL,"
    "  target TEXT NOT NULL,"
    "  headers BLOB NOT NULL,"
    "  body BLOB NOT NULL"
    ");"
    "CREATE INDEX IF NOT EXISTS tykhook_queue_entries_by_state "
    "ON tykhook_queue_entries (state, next_attempt, received);";

// The first queue table (schema 0), keyed by the delivery's key, moves into the new one in the
// order it was queued (its rowid: no sort of whole rows); each entry keeps the claim of its key,
// or gains one that expires when the entry would have gone, and the claim names it.
constexpr const char* move_first_queue_sql =
    "INSERT INTO tykhook_queue_entries (state, next_attempt, received, attempts, lease_until, "
    "token, retried, last_error, key, event, method, target, headers, body) "
    "SELECT state, next_attempt, received, attempts, lease_until, token, retried, last_error, "
    "key, event, method, target, headers, body FROM tykhook_queue ORDER BY rowid;"
    "INSERT INTO tykhook_claims (key, expires_at, entry) "
    "SELECT q.key, old.expires_at / 1000000, q.id FROM tykhook_queue_entries AS q "
    "JOIN tykhook_queue AS old ON old.key = q.key WHERE true "
    "ON CONFLICT (key) DO UPDATE SET entry = excluded.entry;"
    "DROP TABLE tykhook_queue;";

}  // namespace

void set_up_sqlite_schema(const SqliteDb& db) {
  const auto integer = [&](std::string_view sql) {
    const Statement statement = db.prepare(sql);
    return db.run(statement.get(), "cannot set up").value_or(0);
  };
  constexpr std::string_view version_sql = "PRAGMA user_version";
  if (integer(version_sql) == sqlite_schema_version) return;
  db.write_transaction("cannot set up", [&] {
    // Again inside the lock: another process may have upgraded the file meanwhile.
    const auto version = integer(version_sql);
    if (version == sqlite_schema_version) return;
    if (version > sqlite_schema_version) {
      throw Error(where(db.uri()) + "the file has schema " + std::to_string(version) +
                  ", written by a later tykhook; this one reads up to " +
                  std::to_string(sqlite_schema_version) +
                  ". Use the later tykhook, or another file");
    }
    db.exec(claims_sql, "cannot set up");
    // A file of schema 0 has its claims without `entry`.
    if (integer("SELECT count(*) FROM pragma_table_info('tykhook_claims') WHERE name = 'entry'") ==
        0) {
      db.exec("ALTER TABLE tykhook_claims ADD COLUMN entry INTEGER", "cannot upgrade the file");
    }
    db.exec(entries_sql, "cannot set up");
    if (integer("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                "name = 'tykhook_queue'") == 1) {
      db.exec(move_first_queue_sql, "cannot upgrade the queue of the file");
    }
    db.exec(("PRAGMA user_version = " + std::to_string(sqlite_schema_version)).c_str(),
            "cannot set up");
  });
}

}  // namespace tykhook::detail
