// The SQLite store's connection (lib/src/sqlite_db.h): a write_transaction always commits with
// synchronous=FULL, whatever ran before it, and an unsynced one with NORMAL (never OFF, which
// would let a checkpoint copy the log into the file without syncing either).

#include "sqlite_db.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "support/files.h"

namespace {

using tykhook::detail::SqliteDb;
using tykhook::test::TempDir;

constexpr std::int64_t normal = 1;
constexpr std::int64_t full = 2;

// The synchronous setting in force, read inside a transaction.
std::int64_t synchronous(const SqliteDb& db) {
  const auto statement = db.prepare("PRAGMA synchronous");
  return db.run(statement.get(), "test").value_or(-1);
}

TEST_CASE("each write transaction commits with the synchronous setting it promises") {
  const TempDir dir;
  const SqliteDb db(dir.file("sync.db"), "sqlite:sync.db", std::chrono::seconds(1));
  db.exec("CREATE TABLE t (x INTEGER)", "test");
  std::int64_t seen = -1;
  const auto look = [&] { seen = synchronous(db); };

  db.write_transaction("test", look);
  CHECK(seen == full);
  db.unsynced_write_transaction("test", look);
  CHECK(seen == normal);
  db.unsynced_write_transaction("test", look);
  CHECK(seen == normal);
  db.write_transaction("test", look);
  CHECK(seen == full);
  db.write_transaction("test", look);
  CHECK(seen == full);

  // A transaction that throws leaves nothing written, and the next one still gets its setting.
  CHECK_THROWS_AS(db.unsynced_write_transaction("test",
                                                [&] {
                                                  db.exec("INSERT INTO t VALUES (1)", "test");
                                                  throw std::runtime_error("stop");
                                                }),
                  std::runtime_error);
  db.write_transaction("test", look);
  CHECK(seen == full);
  const auto count = db.prepare("SELECT count(*) FROM t");
  CHECK(db.run(count.get(), "test") == 0);
}

}  // namespace
