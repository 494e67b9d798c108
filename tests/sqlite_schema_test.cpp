// The SQLite store's file across versions of tykhook (lib/src/sqlite_schema.h): a file that an
// earlier tykhook wrote, here written with raw SQL as it wrote it, opens with every claim and
// every queued delivery kept, byte for byte and in its state; a file of a later schema is
// refused and left as it is.

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "header_blob.h"
#include "support/files.h"
#include "tykhook/error.h"
#include "tykhook/queue.h"
#include "tykhook/store.h"

namespace {

using namespace std::chrono_literals;
using tykhook::AttemptRecord;
using tykhook::open_store;
using tykhook::QueueEntry;
using tykhook::QueueState;
using tykhook::TimePoint;
using tykhook::test::TempDir;

constexpr auto long_ttl = std::chrono::milliseconds(10min);
constexpr auto lease = std::chrono::milliseconds(30s);
const TimePoint t0 = TimePoint(std::chrono::seconds(1'780'000'000)) + 123'456'789ns;
const AttemptRecord done{QueueState::done, std::nullopt, std::nullopt};

std::int64_t ns(TimePoint t) { return t.time_since_epoch().count(); }

// A raw connection to a file, as an earlier tykhook (or a look from outside) had it.
class RawFile {
 public:
  explicit RawFile(const std::string& path) {
    REQUIRE(sqlite3_open(path.c_str(), &db_) == SQLITE_OK);
  }
  ~RawFile() { sqlite3_close(db_); }
  RawFile(const RawFile&) = delete;
  RawFile& operator=(const RawFile&) = delete;

  void exec(const char* sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
    CAPTURE(sql);
    CHECK_MESSAGE(rc == SQLITE_OK, (message != nullptr ? message : ""));
    sqlite3_free(message);
  }

  std::int64_t integer(const char* sql) {
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_, sql, -1, &statement, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
    const auto value = sqlite3_column_int64(statement, 0);
    sqlite3_finalize(statement);
    return value;
  }

  sqlite3* handle() { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

// The claims as tykhook wrote them before the queue, and as the first queue version kept them.
constexpr const char* claims_v0 =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE tykhook_claims (key TEXT PRIMARY KEY NOT NULL, expires_at INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE INDEX tykhook_claims_by_expiry ON tykhook_claims (expires_at);";

// The first queue table, keyed by the delivery's key, with its own expiry in nanoseconds.
constexpr const char* queue_v0 =
    "CREATE TABLE tykhook_queue (key TEXT PRIMARY KEY NOT NULL, event TEXT NOT NULL,"
    "  method TEXT NOT NULL, target TEXT NOT NULL, headers BLOB NOT NULL, body BLOB NOT NULL,"
    "  received INTEGER NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,"
    "  next_attempt INTEGER, last_error TEXT, retried INTEGER, lease_until INTEGER,"
    "  token INTEGER, expires_at INTEGER NOT NULL);"
    "CREATE INDEX tykhook_queue_by_due ON tykhook_queue (state, next_attempt);"
    "CREATE INDEX tykhook_queue_by_received ON tykhook_queue (state, received);";

// One row of the first queue table.
struct OldRow {
  std::string key;
  std::string state;
  TimePoint received;
  int attempts = 0;
  std::optional<TimePoint> next_attempt;
  std::optional<std::string> last_error;
  std::optional<TimePoint> lease_until;
  std::optional<std::int64_t> token;
};

tykhook::Request request_of(const std::string& key) {
  tykhook::Request request;
  request.method = "POST";
  request.target = "/hooks?k=" + key;
  request.headers = {{"Content-Type", "application/json"}, {"x-raw", std::string("\xff\0", 2)}};
  static constexpr char bytes[] = "{\"k\":\"\0\xfe\"}";
  request.body = std::string(bytes, sizeof bytes - 1) + key;
  return request;
}

void insert_old_row(RawFile& file, const OldRow& row) {
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(file.handle(),
                             "INSERT INTO tykhook_queue VALUES "
                             "(?1, 'user.registered', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, "
                             "?11, ?12, 9223372036854775807)",
                             -1, &statement, nullptr) == SQLITE_OK);
  const auto request = request_of(row.key);
  const auto headers = tykhook::detail::encode_headers(request.headers);
  const auto text = [&](int index, const std::string& value) {
    sqlite3_bind_text(statement, index, value.data(), static_cast<int>(value.size()),
                      SQLITE_TRANSIENT);
  };
  const auto time = [&](int index, std::optional<TimePoint> value) {
    if (value) sqlite3_bind_int64(statement, index, ns(*value));
  };
  text(1, row.key);
  text(2, request.method);
  text(3, request.target);
  sqlite3_bind_blob(statement, 4, headers.data(), static_cast<int>(headers.size()),
                    SQLITE_TRANSIENT);
  sqlite3_bind_blob(statement, 5, request.body.data(), static_cast<int>(request.body.size()),
                    SQLITE_TRANSIENT);
  sqlite3_bind_int64(statement, 6, ns(row.received));
  text(7, row.state);
  sqlite3_bind_int(statement, 8, row.attempts);
  time(9, row.next_attempt);
  if (row.last_error) text(10, *row.last_error);
  time(11, row.lease_until);
  if (row.token) sqlite3_bind_int64(statement, 12, *row.token);
  CHECK(sqlite3_step(statement) == SQLITE_DONE);
  sqlite3_finalize(statement);
}

// A file of the first queue version: an entry of each kind, and a claim of each kind. The
// claim of "retrying" has been swept (its entry waited on without it), "plain" is a claim
// with no entry.
void write_first_queue_file(const std::string& path) {
  RawFile file(path);
  file.exec(claims_v0);
  file.exec(queue_v0);
  insert_old_row(file, {.key = "waiting", .state = "pending", .received = t0, .next_attempt = t0});
  insert_old_row(file, {.key = "retrying",
                        .state = "retrying",
                        .received = t0 + 1s,
                        .attempts = 2,
                        .next_attempt = t0 + 60s,
                        .last_error = "503 from the target"});
  insert_old_row(file, {.key = "done", .state = "done", .received = t0 + 2s, .attempts = 1});
  insert_old_row(file, {.key = "leased",
                        .state = "pending",
                        .received = t0 + 3s,
                        .attempts = 1,
                        .next_attempt = t0 + 3s,
                        .lease_until = t0 + 30s,
                        .token = 42});
  file.exec(
      "INSERT INTO tykhook_claims VALUES ('waiting', 9223372036854775807),"
      " ('done', 9223372036854775807), ('leased', 9223372036854775807),"
      " ('plain', 9223372036854775807);");
}

std::vector<std::string> keys_of(const std::vector<QueueEntry>& entries) {
  std::vector<std::string> keys;
  for (const auto& entry : entries) keys.push_back(entry.key);
  return keys;
}

TEST_CASE("a file from before the queue opens, keeps its claims and gains a queue") {
  const TempDir dir;
  const std::string path = dir.file("old.db");
  {
    RawFile file(path);
    file.exec(claims_v0);
    file.exec("INSERT INTO tykhook_claims VALUES ('old', 9223372036854775807);");
  }
  const auto store = open_store("sqlite:" + path);
  CHECK_FALSE(store->claim("old", long_ttl));
  QueueEntry entry{.key = "new", .event = "user.registered", .request = request_of("new")};
  entry.received = t0;
  entry.next_attempt = t0;
  CHECK(store->claim_and_enqueue(entry, long_ttl));
  const auto taken = store->take(t0, lease, 10);
  REQUIRE(taken.size() == 1);
  CHECK(store->finish("new", taken[0].token, done));
  CHECK(store->find("new")->state == QueueState::done);
}

TEST_CASE("a file of the first queue keeps every entry, byte for byte, in its state and claimed") {
  const TempDir dir;
  const std::string path = dir.file("queue.db");
  write_first_queue_file(path);
  {
    const auto store = open_store("sqlite:" + path);
    for (const std::string key : {"waiting", "retrying", "done", "leased"}) {
      CAPTURE(key);
      const auto entry = store->find(key);
      REQUIRE(entry);
      CHECK(entry->event == "user.registered");
      const auto request = request_of(key);
      CHECK(entry->request.method == request.method);
      CHECK(entry->request.target == request.target);
      REQUIRE(entry->request.headers.size() == 2);
      CHECK(entry->request.headers[1].value == request.headers[1].value);
      CHECK(entry->request.body == request.body);
    }
    const auto retrying = store->find("retrying");
    CHECK(retrying->state == QueueState::retrying);
    CHECK(retrying->attempts == 2);
    CHECK(retrying->next_attempt == t0 + 60s);
    CHECK(retrying->last_error == "503 from the target");
    CHECK(retrying->received == t0 + 1s);
    CHECK(store->find("done")->state == QueueState::done);
    using Keys = std::vector<std::string>;
    CHECK(keys_of(store->list(std::nullopt, 10)) == Keys{"leased", "done", "retrying", "waiting"});
    const auto counts = store->counts();
    CHECK(counts.pending == 2);
    CHECK(counts.retrying == 1);
    CHECK(counts.done == 1);
    CHECK(counts.oldest_waiting == t0);

    // Every key stays claimed, the one whose claim had been swept too.
    for (const std::string key : {"waiting", "retrying", "done", "leased", "plain"}) {
      CAPTURE(key);
      CHECK_FALSE(store->claim(key, long_ttl));
    }
    // The lease runs on, and its token still records the attempt.
    const auto first = store->take(t0 + 10s, lease, 10);
    REQUIRE(first.size() == 1);
    CHECK(first[0].entry.key == "waiting");
    CHECK(store->finish("leased", 42, done));
    CHECK(store->finish("waiting", first[0].token, done));
    const auto second = store->take(t0 + 60s, lease, 10);
    REQUIRE(second.size() == 1);
    CHECK(second[0].entry.key == "retrying");
    CHECK(second[0].entry.attempts == 3);
    CHECK(store->finish("retrying", second[0].token, done));
    CHECK(store->counts().done == 4);
    // The queue's other operations find the moved entries by key.
    CHECK(store->retry("done", t0 + 1h));
    CHECK(store->drop("leased"));
    CHECK_FALSE(store->find("leased"));
  }
  RawFile file(path);
  CHECK(file.integer("PRAGMA user_version") == 2);
  CHECK(file.integer("SELECT count(*) FROM sqlite_master WHERE name = 'tykhook_queue'") == 0);
  // Opened again, nothing moves twice.
  const auto store = open_store("sqlite:" + path);
  CHECK(store->list(std::nullopt, 10).size() == 3);
}

TEST_CASE("processes that open a file of the first queue at once move it once") {
  const TempDir dir;
  const std::string path = dir.file("queue.db");
  write_first_queue_file(path);
  std::vector<std::thread> openers;
  std::vector<std::string> failures(4);
  for (std::size_t i = 0; i < failures.size(); ++i) {
    openers.emplace_back([&, i] {
      try {
        (void)open_store("sqlite:" + path);
      } catch (const std::exception& failure) {
        failures[i] = failure.what();
      }
    });
  }
  for (auto& opener : openers) opener.join();
  for (const auto& failure : failures) CHECK(failure.empty());
  const auto store = open_store("sqlite:" + path);
  CHECK(store->list(std::nullopt, 10).size() == 4);
}

TEST_CASE("a claim that names another key's entry never reaches it") {
  // A claim names its entry by id, and ids can come back once a row is gone. Such a claim
  // (written here by hand: expired, naming the entry of "a") must act as one naming nothing.
  const TempDir dir;
  const std::string path = dir.file("stale.db");
  const auto entry_of = [](const std::string& key, TimePoint received) {
    QueueEntry entry{.key = key, .event = "user.registered", .request = request_of(key)};
    entry.received = received;
    entry.next_attempt = received;
    return entry;
  };
  auto store = open_store("sqlite:" + path);
  REQUIRE(store->claim_and_enqueue(entry_of("a", t0), long_ttl));
  {
    RawFile file(path);
    file.exec(
        "INSERT INTO tykhook_claims (key, expires_at, entry) SELECT 'stale', 0, id "
        "FROM tykhook_queue_entries WHERE key = 'a';"
        "INSERT INTO tykhook_claims (key, expires_at, entry) SELECT 'swept', 0, id "
        "FROM tykhook_queue_entries WHERE key = 'a';");
  }
  CHECK_FALSE(store->find("stale"));
  CHECK_FALSE(store->retry("stale", t0));
  CHECK_FALSE(store->drop("stale"));
  const auto taken = store->take(t0, lease, 10);
  REQUIRE(taken.size() == 1);
  CHECK_FALSE(store->finish("stale", taken[0].token, done));
  CHECK(store->find("a")->state == QueueState::pending);
  // Won again (the claim had expired), the delivery is queued as its own: not taken for an
  // entry of its key that waits, and "a" is left as it was.
  const auto claimed = store->claim_and_lease(entry_of("stale", t0 + 1s), long_ttl, t0 + 1min);
  CHECK(claimed.won);
  CHECK(claimed.token);
  REQUIRE(store->find("stale"));
  CHECK(store->find("stale")->received == t0 + 1s);
  CHECK(store->find("a")->received == t0);
  CHECK(store->counts().pending == 2);
  // Done, "a" is still not swept with the expired claim that names it; that claim goes.
  CHECK(store->finish("a", taken[0].token, done));
  store = open_store("sqlite:" + path);  // a store sweeps at its first claim
  CHECK(store->claim("sweeper", long_ttl));
  CHECK(store->find("a"));
  RawFile file(path);
  CHECK(file.integer("SELECT count(*) FROM tykhook_claims WHERE key = 'swept'") == 0);
}

TEST_CASE("a file of a later schema is refused, says why, and is left as it is") {
  const TempDir dir;
  const std::string path = dir.file("later.db");
  {
    RawFile file(path);
    file.exec("PRAGMA journal_mode=WAL; PRAGMA user_version = 3;");
  }
  const std::string uri = "sqlite:" + path;
  CHECK_THROWS_WITH_AS(open_store(uri), doctest::Contains("written by a later tykhook"),
                       tykhook::Error);
  try {
    (void)open_store(uri);
  } catch (const tykhook::Error& failure) {
    CHECK(std::string_view(failure.what()).find(uri) != std::string_view::npos);
  }
  RawFile file(path);
  CHECK(file.integer("PRAGMA user_version") == 3);
  CHECK(file.integer("SELECT count(*) FROM sqlite_master") == 0);
}

}  // namespace
