#pragma once

// Private to the library: the three store factories that open_store (store.cpp) dispatches to,
// and the few helpers they share. Never installed.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tykhook/store.h"

namespace tykhook::detail {

/// Where a Redis store lives, as parsed from `redis://HOST:PORT[/DB][?prefix=P]`.
struct RedisAddress {
  std::string host;
  int port = 6379;
  int db = 0;
  std::string prefix = "tykhook:";
};

/// Opens a bounded in-process store holding at most `max_keys` keys (at least 1).
[[nodiscard]] std::unique_ptr<Store> open_memory_store(std::size_t max_keys);

/// Opens (creating if needed) the SQLite store at `path`. `uri` is the redacted URI that
/// error messages name. Throws tykhook::Error when the file cannot be opened or set up.
[[nodiscard]] std::unique_ptr<Store> open_sqlite_store(std::string_view path, std::string uri,
                                                       std::chrono::milliseconds busy_timeout);

/// Connects to Redis at `address`, authenticating with `password` when set. `uri` is the
/// redacted URI that error messages name. Throws tykhook::Error when the server is unreachable.
[[nodiscard]] std::unique_ptr<Store> open_redis_store(RedisAddress address,
                                                      std::optional<std::string> password,
                                                      std::string uri,
                                                      std::chrono::milliseconds timeout);

/// Throws std::invalid_argument unless `ttl` is positive: a claim that expires at once would
/// never report a duplicate.
void check_ttl(std::chrono::milliseconds ttl);

/// The message prefix `store "<uri>": ` that every store error starts with.
[[nodiscard]] std::string where(std::string_view uri);

}  // namespace tykhook::detail
