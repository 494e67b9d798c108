#pragma once

// Private to the library: the connections of a Redis store (claims, store_redis.cpp; the queue,
// redis_queue.cpp). A pool of hiredis contexts that reconnects by itself after the server went
// away, and runs commands and scripts with binary-safe arguments. Never installed.

// hiredis's sds.h declares flexible array members, which -Wpedantic rejects in C++.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#include <hiredis/hiredis.h>
#pragma GCC diagnostic pop
#include <sys/time.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store_impl.h"

namespace tykhook::detail {

struct ReplyFree {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

/// The bytes of a string, status or error reply.
[[nodiscard]] std::string_view reply_text(const redisReply& reply);

/// A Lua script that Redis runs: its text and the SHA-1 that EVALSHA names it by.
struct RedisScript {
  explicit RedisScript(std::string text);
  std::string text;
  std::string sha1;  ///< 40 lower-case hex digits
};

class RedisConnections {
 public:
  /// Connects once, so that a wrong address fails here and not at the first delivery. `uri` is
  /// the redacted URI that every message names. Throws tykhook::Error.
  RedisConnections(RedisAddress address, std::optional<std::string> password, std::string uri,
                   std::chrono::milliseconds timeout);
  ~RedisConnections();
  RedisConnections(const RedisConnections&) = delete;
  RedisConnections& operator=(const RedisConnections&) = delete;

  /// Runs one command (each argument binary-safe) on a pooled connection. A connection that
  /// fails (the server restarted or went away) is replaced once and the command sent again;
  /// `retried` then tells the caller that the first attempt's effect is unknown. Throws
  /// tykhook::Error, starting with `what`, when the server cannot be reached or answers an error.
  Reply command(std::string_view what, const std::vector<std::string_view>& args,
                bool* retried = nullptr);
  /// Runs `script` (EVALSHA; EVAL when the server does not hold it, as after a restart) with
  /// `keys` and `args`, as command() runs a command.
  Reply script(std::string_view what, const RedisScript& script,
               const std::vector<std::string_view>& keys, const std::vector<std::string_view>& args,
               bool* retried = nullptr);

  [[nodiscard]] const RedisAddress& address() const { return address_; }
  /// Throws tykhook::Error: `store "<uri>": <what>: <detail>; <how>`.
  [[noreturn]] void fail(std::string_view what, std::string_view detail,
                         std::string_view how) const;

 private:
  struct ContextFree {
    void operator()(redisContext* context) const;
  };
  using Context = std::unique_ptr<redisContext, ContextFree>;

  void check(const redisReply& reply, std::string_view what) const;
  Context connect() const;
  Context acquire();
  void give_back(Context context);
  // Sends `args` on `context`; nullptr when the connection failed.
  static Reply send(redisContext* context, const std::vector<std::string_view>& args);
  Reply run(std::string_view what, const std::vector<std::string_view>& args,
            const std::vector<std::string_view>* fallback, bool* retried);

  const RedisAddress address_;
  const std::optional<std::string> password_;
  const std::string uri_;
  const timeval timeout_;
  // hiredis contexts are not thread-safe: each is used by one thread between acquire and
  // give_back.
  std::mutex mutex_;
  std::vector<Context> idle_;
};

}  // namespace tykhook::detail
