#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

namespace tykhook {

/// An idempotency store: remembers the keys of deliveries already processed. Every method is
/// safe to call from many threads at once. Failures of the backing store (disk full, Redis
/// gone) throw tykhook::Error; the receiver answers them with 503 so that nothing is lost.
class Store {
 public:
  virtual ~Store() = default;
  /// Records `key` for `ttl` and returns true when this call is the first to see it (atomic).
  [[nodiscard]] virtual bool claim(std::string_view key, std::chrono::milliseconds ttl) = 0;
  /// Forgets `key`, so that a later claim of it wins again (a handler that failed).
  virtual void release(std::string_view key) = 0;
  /// The number of keys held, where that is cheap to know; nullopt otherwise.
  [[nodiscard]] virtual std::optional<std::size_t> size() const = 0;
  /// Whether a claim that returned true survives a crash of this process.
  [[nodiscard]] virtual bool durable() const = 0;
  /// Whether claim and release always return without waiting on a disk, a network or another
  /// process (an in-memory store). The receiver then serves deliveries on its event loop's
  /// thread, without handing them to a worker. The default, false, is always safe.
  [[nodiscard]] virtual bool never_waits() const { return false; }
};

/// Settings of open_store that a URI does not carry; the defaults suit the receiver.
struct StoreOptions {
  /// The most keys a `memory:` store holds; when full, the key that expires first goes first.
  std::size_t memory_max_keys = 100'000;
  /// How long a SQLite claim waits for other processes' locks before it throws tykhook::Error.
  std::chrono::milliseconds sqlite_busy_timeout{5'000};
  /// How long a Redis connect, or one Redis command, may take before it counts as failed.
  std::chrono::milliseconds redis_timeout{2'000};
};

/// Opens a store from a URI: `memory:`, `sqlite:PATH` or `redis://HOST:PORT[/DB]` (the Redis
/// password comes from the environment variable TYKHOOK_REDIS_PASSWORD). Throws tykhook::Error
/// naming the URI (never a password) when it is malformed or the store cannot be reached.
/// `redis://HOST:PORT[/DB]?prefix=P` puts keys under P (default `tykhook:`), taken literally.
[[nodiscard]] std::unique_ptr<Store> open_store(std::string_view uri);

/// Opens a store from a URI as above, with settings that the URI does not carry.
[[nodiscard]] std::unique_ptr<Store> open_store(std::string_view uri, const StoreOptions& options);

}  // namespace tykhook
