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
};

/// Opens a store from a URI: `memory:`, `sqlite:PATH` or `redis://HOST:PORT[/DB]` (the Redis
/// password comes from the environment variable TYKHOOK_REDIS_PASSWORD). Throws tykhook::Error
/// naming the URI (never a password) when it is malformed or the store cannot be reached.
[[nodiscard]] std::unique_ptr<Store> open_store(std::string_view uri);

}  // namespace tykhook
