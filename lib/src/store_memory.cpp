#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "store_impl.h"

namespace tykhook::detail {
namespace {

using Clock = std::chrono::steady_clock;

// Lets the key map be searched with a string_view, without building a std::string per claim.
struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
};

// Keys with their expiry, plus an index by expiry. The index makes both sweeping the expired
// keys and evicting when full take the front of one ordered container; equal expiries keep
// insertion order, so with one TTL the oldest key goes first.
class MemoryStore final : public Store {
 public:
  explicit MemoryStore(std::size_t max_keys) : max_keys_(max_keys) {}

  bool claim(std::string_view key, std::chrono::milliseconds ttl) override {
    check_ttl(ttl);
    const auto now = Clock::now();
    const std::lock_guard lock(mutex_);
    sweep(now);
    if (keys_.find(key) != keys_.end()) return false;
    if (keys_.size() >= max_keys_) forget(keys_.find(by_expiry_.begin()->second));
    const auto entry = keys_.emplace(std::string(key), by_expiry_.end()).first;
    try {
      entry->second = by_expiry_.emplace(now + ttl, entry->first);
    } catch (...) {
      keys_.erase(entry);
      throw;
    }
    return true;
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

 private:
  // The index's values view the map's keys: nodes of an unordered_map never move.
  using ExpiryIndex = std::multimap<Clock::time_point, std::string_view>;
  using KeyMap = std::unordered_map<std::string, ExpiryIndex::iterator, KeyHash, std::equal_to<>>;

  void forget(KeyMap::const_iterator entry) const {
    by_expiry_.erase(entry->second);
    keys_.erase(entry);
  }

  // A key expires when its expiry is not after now, as in the SQLite store.
  void sweep(Clock::time_point now) const {
    while (!by_expiry_.empty() && by_expiry_.begin()->first <= now) {
      forget(keys_.find(by_expiry_.begin()->second));
    }
  }

  const std::size_t max_keys_;
  // size() is const but sweeps, so that it never counts an expired key.
  mutable std::mutex mutex_;
  mutable KeyMap keys_;
  mutable ExpiryIndex by_expiry_;
};

}  // namespace

std::unique_ptr<Store> open_memory_store(std::size_t max_keys) {
  return std::make_unique<MemoryStore>(max_keys);
}

}  // namespace tykhook::detail
