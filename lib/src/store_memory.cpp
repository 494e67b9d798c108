#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store_impl.h"
#include "tykhook/error.h"

namespace tykhook::detail {
namespace {

using Clock = std::chrono::steady_clock;

// Lets the key map be searched with a string_view, without building a std::string per claim.
struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
};

bool waiting(QueueState state) {
  return state == QueueState::pending || state == QueueState::retrying;
}

// Keys with their expiry, plus an index by expiry. The index makes both sweeping the expired
// keys and evicting when full take the front of one ordered container; equal expiries keep
// insertion order, so with one TTL the oldest key goes first.
//
// The queue sits beside the keys: entries by key, an index of the waiting ones by when they
// fall due (their next attempt, or the end of their lease), and an index of the done and dead
// ones by when their claim expires, which is when they go.
class MemoryStore final : public Store {
 public:
  explicit MemoryStore(std::size_t max_keys) : max_keys_(max_keys) {}

  bool claim(std::string_view key, std::chrono::milliseconds ttl) override {
    check_ttl(ttl);
    const auto now = Clock::now();
    const std::lock_guard lock(mutex_);
    sweep(now);
    return claim_locked(key, now + ttl);
  }

  void release(std::string_view key) override {
    const std::lock_guard lock(mutex_);
    if (const auto entry = keys_.find(key); entry != keys_.end()) forget(entry);
  }

  std::optional<std::size_t> size() const override {
    const std::lock_guard lock(mutex_);
    sweep(Clock::now());
    return keys_.size();
  }

  bool durable() const override { return false; }
  bool never_waits() const override { return true; }

  // ---- the queue ------------------------------------------------------------------------------

  bool has_queue() const override { return true; }

  bool claim_and_enqueue(const QueueEntry& entry, std::chrono::milliseconds ttl) override {
    return enqueue(entry, ttl, std::nullopt).won;
  }

  ClaimedLease claim_and_lease(const QueueEntry& entry, std::chrono::milliseconds ttl,
                               TimePoint lease_until) override {
    return enqueue(entry, ttl, lease_until);
  }

  std::vector<LeasedEntry> take(TimePoint now, std::chrono::milliseconds lease,
                                std::size_t max) override {
    const std::lock_guard lock(mutex_);
    sweep(Clock::now());
    std::vector<LeasedEntry> taken;
    while (taken.size() < max && !due_.empty() && due_.begin()->first <= now) {
      const auto it = queue_.find(due_.begin()->second);
      Item& item = it->second;
      due_.erase(due_.begin());
      item.lease_until = now + lease;
      item.token = ++last_token_;
      ++item.entry.attempts;
      index_due(it);
      taken.push_back({item.entry, item.token});
    }
    return taken;
  }

  bool finish(std::string_view key, std::uint64_t token, const AttemptRecord& record) override {
    check_record(record);
    return end_lease(key, token, [&](QueueEntry& entry) {
      entry.state = record.state;
      entry.last_error = record.error;
      entry.next_attempt =
          record.state == QueueState::retrying ? record.next_attempt : std::nullopt;
    });
  }

  bool give_back(std::string_view key, std::uint64_t token) override {
    return end_lease(key, token, [](QueueEntry& entry) {
      if (entry.attempts > 0) --entry.attempts;  // the attempt was never made
    });
  }

  std::optional<TimePoint> next_due() override {
    const std::lock_guard lock(mutex_);
    if (due_.empty()) return std::nullopt;
    return due_.begin()->first;
  }

  std::vector<QueueEntry> list(std::optional<QueueState> state, std::size_t limit) override {
    const std::lock_guard lock(mutex_);
    sweep(Clock::now());
    std::vector<const QueueEntry*> found;
    for (const auto& [key, item] : queue_) {
      if (!state || item.entry.state == *state) found.push_back(&item.entry);
    }
    const auto newer = [](const QueueEntry* a, const QueueEntry* b) {
      return a->received != b->received ? a->received > b->received : a->key < b->key;
    };
    const auto shown = std::min(limit, found.size());
    std::partial_sort(found.begin(), found.begin() + static_cast<std::ptrdiff_t>(shown),
                      found.end(), newer);
    std::vector<QueueEntry> entries;
    entries.reserve(shown);
    for (std::size_t i = 0; i < shown; ++i) entries.push_back(*found[i]);
    return entries;
  }

  std::optional<QueueEntry> find(std::string_view key) override {
    const std::lock_guard lock(mutex_);
    sweep(Clock::now());
    const auto it = queue_.find(key);
    if (it == queue_.end()) return std::nullopt;
    return it->second.entry;
  }

  bool retry(std::string_view key, TimePoint now) override {
    const std::lock_guard lock(mutex_);
    sweep(Clock::now());
    const auto it = queue_.find(key);
    if (it == queue_.end()) return false;
    Item& item = it->second;
    unindex(it);
    item.entry.state = QueueState::pending;
    item.entry.attempts = 0;
    item.entry.next_attempt = now;
    item.entry.retried = now;
    item.lease_until.reset();
    item.token = 0;  // the attempt in flight, if any, no longer holds it
    index(it);
    return true;
  }

  bool drop(std::string_view key) override {
    const std::lock_guard lock(mutex_);
    const auto it = queue_.find(key);
    if (it == queue_.end()) return false;
    unqueue(it);
    return true;
  }

  QueueCounts counts() override {
    const std::lock_guard lock(mutex_);
    sweep(Clock::now());
    QueueCounts counts;
    for (const auto& [key, item] : queue_) {
      switch (item.entry.state) {
        case QueueState::pending:
          ++counts.pending;
          break;
        case QueueState::retrying:
          ++counts.retrying;
          break;
        case QueueState::done:
          ++counts.done;
          break;
        case QueueState::dead:
          ++counts.dead;
          break;
      }
      if (waiting(item.entry.state) &&
          (!counts.oldest_waiting || item.entry.received < *counts.oldest_waiting)) {
        counts.oldest_waiting = item.entry.received;
      }
    }
    return counts;
  }

 private:
  // The index's values view the map's keys: nodes of an unordered_map never move.
  using ExpiryIndex = std::multimap<Clock::time_point, std::string_view>;
  using KeyMap = std::unordered_map<std::string, ExpiryIndex::iterator, KeyHash, std::equal_to<>>;

  // claim_and_enqueue, the entry leased until `lease_until` when that is set.
  ClaimedLease enqueue(const QueueEntry& entry, std::chrono::milliseconds ttl,
                       std::optional<TimePoint> lease_until) {
    check_ttl(ttl);
    const auto now = Clock::now();
    const std::lock_guard lock(mutex_);
    sweep(now);
    if (keys_.find(entry.key) != keys_.end()) return {};
    const auto queued = queue_.find(entry.key);
    if (queued == queue_.end() || !waiting(queued->second.entry.state)) {
      // A waiting entry is never evicted: a full queue refuses the delivery instead, so that
      // the sender tries again later.
      if (waiting_count() >= max_keys_) {
        throw Error(where("memory:") + "queue full: " + std::to_string(max_keys_) +
                    " deliveries wait to be handed on; the receiver answers 503 until some are "
                    "done (use sqlite:PATH for a queue on disk)");
      }
      if (queued != queue_.end()) {
        unqueue(queued);
      } else if (queue_.size() >= max_keys_) {
        unqueue(queue_.find(finished_.begin()->second));  // the done or dead one that expires first
      }
    }
    const auto expires = now + ttl;
    if (!claim_locked(entry.key, expires)) return {};
    // A waiting entry of this key (its claim was evicted) stays as it is: it is queued already.
    if (queue_.find(entry.key) != queue_.end()) return {.won = true};
    Item item{entry, 0, lease_until, expires, {}};
    item.entry.state = QueueState::pending;
    item.entry.attempts = lease_until ? 1 : 0;
    if (lease_until) item.token = ++last_token_;
    item.entry.next_attempt = entry.received;
    item.entry.last_error.reset();
    item.entry.retried.reset();
    const auto it = queue_.emplace(entry.key, std::move(item)).first;
    try {
      index_due(it);
    } catch (...) {
      queue_.erase(it);
      throw;
    }
    if (!lease_until) return {.won = true};
    return {.won = true, .token = it->second.token};
  }

  struct Item {
    QueueEntry entry;
    std::uint64_t token = 0;  // 0: no attempt holds it
    std::optional<TimePoint> lease_until;
    Clock::time_point expires;    // when its claim expires: a done or dead entry goes then
    ExpiryIndex::iterator where;  // in finished_, for a done or dead entry
  };
  // Ordered, so that the index's views of its keys stay valid (nodes never move).
  using Queue = std::map<std::string, Item, std::less<>>;

  bool claim_locked(std::string_view key, Clock::time_point expires) const {
    if (keys_.find(key) != keys_.end()) return false;
    if (keys_.size() >= max_keys_) forget(keys_.find(by_expiry_.begin()->second));
    const auto entry = keys_.emplace(std::string(key), by_expiry_.end()).first;
    try {
      entry->second = by_expiry_.emplace(expires, entry->first);
    } catch (...) {
      keys_.erase(entry);
      throw;
    }
    return true;
  }

  void forget(KeyMap::const_iterator entry) const {
    by_expiry_.erase(entry->second);
    keys_.erase(entry);
  }

  // A key expires when its expiry is not after now, as in the SQLite store; so does a done or
  // dead entry. A waiting entry never does.
  void sweep(Clock::time_point now) const {
    while (!by_expiry_.empty() && by_expiry_.begin()->first <= now) {
      forget(keys_.find(by_expiry_.begin()->second));
    }
    while (!finished_.empty() && finished_.begin()->first <= now) {
      unqueue(queue_.find(finished_.begin()->second));
    }
  }

  static void check_record(const AttemptRecord& record) {
    if (record.state == QueueState::pending) {
      throw std::invalid_argument("Store::finish: an attempt ends done, retrying or dead");
    }
    if (record.state == QueueState::retrying && !record.next_attempt) {
      throw std::invalid_argument("Store::finish: a retrying record needs its next_attempt");
    }
  }

  // When a waiting entry falls due: at its next attempt, or when its lease ends.
  static TimePoint due_at(const Item& item) {
    const TimePoint next = item.entry.next_attempt.value_or(TimePoint{});
    return item.lease_until ? std::max(next, *item.lease_until) : next;
  }

  size_t waiting_count() const { return queue_.size() - finished_.size(); }

  // Ends the lease of `token` on entry `key`, applying `change` to the entry, when the token
  // still holds it; returns whether it did.
  template <class Change>
  bool end_lease(std::string_view key, std::uint64_t token, Change&& change) {
    const std::lock_guard lock(mutex_);
    const auto it = queue_.find(key);
    if (it == queue_.end() || it->second.token == 0 || it->second.token != token) return false;
    Item& item = it->second;
    unindex(it);
    item.token = 0;
    item.lease_until.reset();
    change(item.entry);
    index(it);
    return true;
  }

  void index_due(Queue::iterator it) const { due_.emplace(due_at(it->second), it->first); }

  void index(Queue::iterator it) const {
    if (waiting(it->second.entry.state)) {
      index_due(it);
    } else {
      it->second.where = finished_.emplace(it->second.expires, it->first);
    }
  }

  void unindex(Queue::iterator it) const {
    if (waiting(it->second.entry.state)) {
      due_.erase({due_at(it->second), it->first});
    } else {
      finished_.erase(it->second.where);
    }
  }

  void unqueue(Queue::iterator it) const {
    unindex(it);
    queue_.erase(it);
  }

  const std::size_t max_keys_;
  // size() is const but sweeps, so that it never counts an expired key.
  mutable std::mutex mutex_;
  mutable KeyMap keys_;
  mutable ExpiryIndex by_expiry_;
  mutable Queue queue_;
  mutable std::set<std::pair<TimePoint, std::string_view>> due_;
  mutable ExpiryIndex finished_;
  std::uint64_t last_token_ = 0;
};

}  // namespace

std::unique_ptr<Store> open_memory_store(std::size_t max_keys) {
  return std::make_unique<MemoryStore>(max_keys);
}

}  // namespace tykhook::detail
