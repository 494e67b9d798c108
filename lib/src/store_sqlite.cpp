#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "group_commit.h"
#include "sqlite_db.h"
#include "sqlite_queue.h"
#include "sqlite_schema.h"
#include "store_impl.h"

namespace tykhook::detail {
namespace {

// Expired keys are deleted at most this often, and at most this many at a time, so that a
// claim never waits for a long delete.
constexpr std::chrono::seconds sweep_interval{60};
constexpr int sweep_batch = 1000;

// A claim is one statement, so one atomic write, for a new key (the common case): it is
// inserted, naming its entry when one is queued with it (?3, or NULL). A key claimed before is
// left alone by it, and by take_over_sql too when its claim is live; an expired one is taken
// over, and names the entry it named (one that may wait still), or else the new one.
constexpr std::string_view claim_sql =
    "INSERT INTO tykhook_claims (key, expires_at, entry) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (key) DO NOTHING";
constexpr std::string_view take_over_sql =
    "UPDATE tykhook_claims SET expires_at = ?2, entry = coalesce(entry, ?4) "
    "WHERE key = ?1 AND expires_at <= ?3 RETURNING coalesce(entry, 0)";
// Released, a claim expires: a later claim of the key wins. One that names an entry keeps it
// named until the sweep (which leaves the claim of an entry that waits).
constexpr std::string_view release_sql =
    "UPDATE tykhook_claims SET expires_at = 0 WHERE key = ?1 AND expires_at > 0";
constexpr std::string_view size_sql = "SELECT count(*) FROM tykhook_claims WHERE expires_at > ?1";
// After the queue's sweep (sqlite_queue.cpp) has deleted the done and dead entries of expired
// claims: the expired claims that name no entry left. The claim of an entry that waits stays
// with it, expired (a later claim of its key takes it over and finds the entry waiting).
constexpr std::string_view sweep_sql =
    "DELETE FROM tykhook_claims WHERE key IN (SELECT c.key FROM tykhook_claims AS c "
    "WHERE c.expires_at <= ?1 AND NOT EXISTS "
    "(SELECT 1 FROM tykhook_queue_entries AS q WHERE q.id = c.entry AND q.key = c.key) LIMIT ?2)";

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class SqliteStore final : public Store {
 public:
  SqliteStore(std::string_view path, std::string uri, std::chrono::milliseconds busy_timeout)
      : db_(path, std::move(uri), busy_timeout) {
    set_up_sqlite_schema(db_);
    claim_ = db_.prepare(claim_sql);
    take_over_ = db_.prepare(take_over_sql);
    release_ = db_.prepare(release_sql);
    size_ = db_.prepare(size_sql);
    sweep_ = db_.prepare(sweep_sql);
    queue_ = std::make_unique<SqliteQueue>(db_);
  }

  bool claim(std::string_view key, std::chrono::milliseconds ttl) override {
    check_ttl(ttl);
    // Group commit: with synchronous=FULL every commit waits for an fsync, so the claims of
    // concurrent deliveries share one transaction rather than queue for one fsync each. A
    // claim returns only once the transaction that holds it has committed.
    PendingWrite pending{.key = key, .ttl = ttl};
    group_.submit(pending, [this](std::vector<PendingWrite*>& batch) { commit(batch); });
    return pending.won;
  }

  void release(std::string_view key) override {
    const std::lock_guard lock(db_mutex_);
    db_.write_transaction("cannot release a claim", [&] {
      bind_text(release_.get(), 1, key);
      db_.run(release_.get(), "cannot release a claim");
    });
  }

  std::optional<std::size_t> size() const override {
    const std::lock_guard lock(db_mutex_);
    sqlite3_bind_int64(size_.get(), 1, unix_ms_now());
    const auto count = db_.run(size_.get(), "cannot count the claims");
    return static_cast<std::size_t>(count.value_or(0));
  }

  bool durable() const override { return true; }

  // ---- the queue (sqlite_queue.cpp) -----------------------------------------------------------

  bool has_queue() const override { return true; }

  bool claim_and_enqueue(const QueueEntry& entry, std::chrono::milliseconds ttl) override {
    return claim_and_lease(entry, ttl, std::nullopt).won;
  }

  ClaimedLease claim_and_lease(const QueueEntry& entry, std::chrono::milliseconds ttl,
                               TimePoint lease_until) override {
    return claim_and_lease(entry, ttl, std::optional<TimePoint>(lease_until));
  }

  std::vector<LeasedEntry> take(TimePoint now, std::chrono::milliseconds lease,
                                std::size_t max) override {
    if (max == 0) return {};
    const std::lock_guard lock(db_mutex_);
    // A take need not reach the disk before it returns: a lease lost in a crash only lets the
    // entry be taken again, which a crash allows anyway (at least once). A take of its own,
    // not in the group commit: there it would wait for the claims' fsync, and the worker would
    // fall behind the receiver (measured: bench/README.md, "The delivery queue").
    std::vector<LeasedEntry> taken;
    db_.unsynced_write_transaction("cannot take queued deliveries",
                                   [&] { taken = queue_->take(now, lease, max); });
    return taken;
  }

  bool finish(std::string_view key, std::uint64_t token, const AttemptRecord& record) override {
    SqliteQueue::check(record);  // here, not in the batch: misuse must not fail others' claims
    // The ends of attempts join the claims' group commit: under load, one fsync records the
    // deliveries that arrived and the attempts that ended meanwhile.
    PendingWrite pending{.key = key, .finish = &record, .token = token};
    group_.submit(pending, [this](std::vector<PendingWrite*>& batch) { commit(batch); });
    return pending.won;
  }

  bool give_back(std::string_view key, std::uint64_t token) override {
    const std::lock_guard lock(db_mutex_);
    // No fsync: a give-back lost in a crash of the machine leaves the lease to run out, as
    // the crash would anyway.
    bool given = false;
    db_.unsynced_write_transaction("cannot give a lease back",
                                   [&] { given = queue_->give_back(key, token); });
    return given;
  }

  std::optional<TimePoint> next_due() override {
    const std::lock_guard lock(db_mutex_);
    return queue_->next_due();
  }

  std::vector<QueueEntry> list(std::optional<QueueState> state, std::size_t limit) override {
    const std::lock_guard lock(db_mutex_);
    return queue_->list(state, limit);
  }

  std::optional<QueueEntry> find(std::string_view key) override {
    const std::lock_guard lock(db_mutex_);
    return queue_->find(key);
  }

  bool retry(std::string_view key, TimePoint now) override {
    const std::lock_guard lock(db_mutex_);
    return queue_->retry(key, now);
  }

  bool drop(std::string_view key) override {
    const std::lock_guard lock(db_mutex_);
    return queue_->drop(key);
  }

  QueueCounts counts() override {
    const std::lock_guard lock(db_mutex_);
    return queue_->counts();
  }

 private:
  // The claim and its entry go into the same group commit, so into one transaction; and the
  // lease, when asked for, into the entry's own row as it is inserted: no take (a transaction
  // of its own, and a page of the WAL) for a delivery attempted at once.
  ClaimedLease claim_and_lease(const QueueEntry& entry, std::chrono::milliseconds ttl,
                               std::optional<TimePoint> lease_until) {
    check_ttl(ttl);
    PendingWrite pending{.key = entry.key, .ttl = ttl, .entry = &entry, .lease_until = lease_until};
    group_.submit(pending, [this](std::vector<PendingWrite*>& batch) { commit(batch); });
    return {.won = pending.won, .token = pending.leased};
  }

  // A claim (with its entry, or none), or the end of an attempt (`finish` set).
  struct PendingWrite {
    std::string_view key;
    std::chrono::milliseconds ttl{};
    const QueueEntry* entry = nullptr;  // queued in the same transaction when the claim wins
    const AttemptRecord* finish = nullptr;
    std::uint64_t token = 0;               // the attempt's lease, with `finish`
    std::optional<TimePoint> lease_until;  // lease the entry too, until then
    bool won = false;                      // the claim won; or the finish applied
    std::optional<std::uint64_t> leased;   // the token of the entry's lease, with `lease_until`
  };

  // Records a batch of claims (and the entries of those that win) and ends of attempts in one
  // transaction, in their order (so of two claims of one key in a batch, the first wins), and
  // commits it. Throws tykhook::Error, with nothing recorded, when any step fails: the batch's
  // callers all answer 503 then, and nothing is lost.
  void commit(std::vector<PendingWrite*>& batch) {
    const std::lock_guard lock(db_mutex_);
    // A batch of ends of attempts alone need not wait for an fsync: an end lost in a crash of
    // the machine only lets the entry be attempted again (at least once; never a success
    // recorded for an attempt that failed). The next claim's commit syncs it with the claim.
    const bool claims = std::any_of(batch.begin(), batch.end(), [](const PendingWrite* each) {
      return each->finish == nullptr;
    });
    const auto transaction = [&](auto&& body) {
      if (claims) {
        db_.write_transaction("cannot record a claim", body);
      } else {
        db_.unsynced_write_transaction("cannot update the queue", body);
      }
    };
    try {
      // BEGIN IMMEDIATE takes the write lock at once, waiting for other processes as long as
      // the busy timeout allows.
      transaction([&] {
        const auto now = unix_ms_now();
        if (std::chrono::steady_clock::now() >= next_sweep_) sweep(now);
        const auto max = std::numeric_limits<std::int64_t>::max();
        std::optional<std::int64_t> next_id;  // of the next entry that this transaction queues
        for (PendingWrite* pending : batch) {
          if (pending->finish != nullptr) {
            pending->won = queue_->finish(pending->key, pending->token, *pending->finish);
            continue;
          }
          const auto ttl = pending->ttl.count();
          const auto expires = ttl > max - now ? max : now + ttl;
          std::optional<std::int64_t> id;
          if (pending->entry != nullptr) {
            if (!next_id) next_id = queue_->next_id();
            id = next_id;
          }
          const auto named = run_claim(pending->key, expires, now, id);
          pending->won = named.has_value();
          if (pending->won && id) {
            const auto queued = queue_->enqueue(*pending->entry, *id, *named, pending->lease_until);
            if (queued.queued) ++*next_id;
            pending->leased = queued.token;
          }
        }
      });
    } catch (...) {
      for (PendingWrite* pending : batch) {
        pending->won = false;
        pending->leased.reset();
      }
      throw;
    }
  }

  // Claims `key` until `expires` (Unix ms) at `now`, for an entry to be queued at `id` when
  // that is set. Returns nullopt when the claim lost, and otherwise the entry that the claim
  // names (0 for none; ids start at 1): `id` for a new key, or for an expired claim taken over
  // the entry it named, else `id`.
  std::optional<std::int64_t> run_claim(std::string_view key, std::int64_t expires,
                                        std::int64_t now, std::optional<std::int64_t> id) {
    const auto bind_id = [&](sqlite3_stmt* statement, int index) {
      if (id) {
        sqlite3_bind_int64(statement, index, *id);
      } else {
        sqlite3_bind_null(statement, index);
      }
    };
    bind_text(claim_.get(), 1, key);
    sqlite3_bind_int64(claim_.get(), 2, expires);
    bind_id(claim_.get(), 3);
    db_.run(claim_.get(), "cannot record a claim");
    if (sqlite3_changes(db_.handle()) == 1) return id.value_or(0);
    bind_text(take_over_.get(), 1, key);
    sqlite3_bind_int64(take_over_.get(), 2, expires);
    sqlite3_bind_int64(take_over_.get(), 3, now);
    bind_id(take_over_.get(), 4);
    return db_.run(take_over_.get(), "cannot record a claim");  // a row when taken over
  }

  // Runs inside a claim's transaction, before its claims. A sweep that meets a lock is
  // skipped: the next claim tries again, and expired keys only cost space meanwhile (the claim
  // statement takes them over anyway). Done and dead queue entries go with their claims;
  // waiting ones never do.
  void sweep(std::int64_t now) {
    const auto entries = queue_->sweep(now, sweep_batch);
    sqlite3_bind_int64(sweep_.get(), 1, now);
    sqlite3_bind_int(sweep_.get(), 2, sweep_batch);
    const int rc = sqlite3_step(sweep_.get());
    sqlite3_reset(sweep_.get());
    if (rc != SQLITE_DONE && !is_busy(rc)) db_.fail(rc, "cannot delete expired claims");
    const bool more_claims = rc == SQLITE_DONE && sqlite3_changes(db_.handle()) == sweep_batch;
    // A full batch suggests more: sweep again at the next claim.
    const bool more = more_claims || entries == sweep_batch;
    next_sweep_ = std::chrono::steady_clock::now() +
                  (more ? std::chrono::steady_clock::duration::zero() : sweep_interval);
  }

  // One connection, used by one thread at a time: SQLite serialises writers anyway.
  mutable std::mutex db_mutex_;
  GroupCommit<PendingWrite> group_;
  SqliteDb db_;
  Statement claim_;
  Statement take_over_;
  Statement release_;
  Statement size_;
  Statement sweep_;
  std::unique_ptr<SqliteQueue> queue_;
  std::chrono::steady_clock::time_point next_sweep_{};
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(std::string_view path, std::string uri,
                                         std::chrono::milliseconds busy_timeout) {
  return std::make_unique<SqliteStore>(path, std::move(uri), busy_timeout);
}

}  // namespace tykhook::detail
