// hiredis's sds.h declares flexible array members, which -Wpedantic rejects in C++.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#include <hiredis/hiredis.h>
#pragma GCC diagnostic pop
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store_impl.h"
#include "tykhook/error.h"

namespace tykhook::detail {
namespace {

// Connections kept open between commands; more callers at once open more, and close them after.
constexpr std::size_t max_idle_connections = 8;

constexpr std::string_view connect_hint = "start redis-server or fix the address";
constexpr std::string_view io_hint = "check that redis-server is running and reachable";

struct ContextFree {
  void operator()(redisContext* context) const { redisFree(context); }
};
using Context = std::unique_ptr<redisContext, ContextFree>;

struct ReplyFree {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

timeval to_timeval(std::chrono::milliseconds duration) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(duration);
  return timeval{static_cast<time_t>(seconds.count()),
                 static_cast<suseconds_t>((duration - seconds).count() * 1000)};
}

// Writing to a socket that the server has closed raises SIGPIPE, which by default ends the
// process: exactly when Redis restarts. The signal is blocked in this thread for the duration
// of one command and any SIGPIPE it raised is discarded; the write then fails with EPIPE,
// which the reconnect handles.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &previous_);
    sigset_t pending;
    sigpending(&pending);
    already_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ~SigpipeBlock() {
    sigset_t pending;
    sigpending(&pending);
    if (!already_pending_ && sigismember(&pending, SIGPIPE) == 1) {
      const timespec no_wait{};
      sigtimedwait(&pipe_, nullptr, &no_wait);
    }
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t previous_{};
  bool already_pending_ = false;
};

std::string_view reply_text(const redisReply& reply) {
  return std::string_view(reply.str, static_cast<std::size_t>(reply.len));
}

// True when the socket's two ends are the same address and port (a TCP self-connection).
bool connected_to_itself(int fd) {
  sockaddr_storage local{}, peer{};
  socklen_t local_size = sizeof local, peer_size = sizeof peer;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_size) != 0 ||
      ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_size) != 0) {
    return false;
  }
  return local_size == peer_size && std::memcmp(&local, &peer, local_size) == 0;
}

class RedisStore final : public Store {
 public:
  RedisStore(RedisAddress address, std::optional<std::string> password, std::string uri,
             std::chrono::milliseconds timeout)
      : address_(std::move(address)),
        password_(std::move(password)),
        uri_(std::move(uri)),
        timeout_(to_timeval(timeout)) {
    std::random_device random;
    const auto high = static_cast<std::uint64_t>(random()) << 32;
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(high | random()));
    token_prefix_ = std::string(hex) + ":";
    // Connect now, so that a wrong address fails at setup and not at the first delivery.
    idle_.push_back(connect());
  }

  // SET NX is the atomic claim. Each claim stores its own token, so that after a retry (the
  // first SET may have been applied before its reply was lost) a GET tells whether the key
  // holds this claim's token, i.e. whether this claim won after all.
  bool claim(std::string_view key, std::chrono::milliseconds ttl) override {
    check_ttl(ttl);
    const std::string name = address_.prefix + std::string(key);
    const std::string token =
        token_prefix_ + std::to_string(counter_.fetch_add(1, std::memory_order_relaxed));
    const auto ttl_ms = static_cast<long long>(ttl.count());
    bool retried = false;
    const auto reply = execute(
        "cannot claim a key",
        [&](redisContext* context) {
          return redisCommand(context, "SET %b %b NX PX %lld", name.data(), name.size(),
                              token.data(), token.size(), ttl_ms);
        },
        &retried);
    // SET NX answers OK when it set the key and nil when the key exists; anything else is not
    // an answer to it, and must not be taken for "claimed before" (a duplicate).
    if (reply->type == REDIS_REPLY_STATUS && reply_text(*reply) == "OK") return true;
    if (reply->type != REDIS_REPLY_NIL) {
      fail("cannot claim a key", "the server answered SET with something else than OK or nil",
           "check that the address is a Redis server");
    }
    if (!retried) return false;
    const auto held = execute("cannot claim a key", [&](redisContext* context) {
      return redisCommand(context, "GET %b", name.data(), name.size());
    });
    return held->type == REDIS_REPLY_STRING && reply_text(*held) == token;
  }

  void release(std::string_view key) override {
    const std::string name = address_.prefix + std::string(key);
    (void)execute("cannot release a key", [&](redisContext* context) {
      return redisCommand(context, "DEL %b", name.data(), name.size());
    });
  }

  // Counting the keys under a prefix means scanning the whole database: not cheap.
  std::optional<std::size_t> size() const override { return std::nullopt; }

  // Whether Redis keeps a key after its own crash depends on the server's configuration.
  bool durable() const override { return false; }

 private:
  [[noreturn]] void fail(std::string_view what, std::string_view detail,
                         std::string_view how) const {
    throw Error(where(uri_) + std::string(what) + ": " + std::string(detail) + "; " +
                std::string(how));
  }

  // Throws for an error reply. NOAUTH gets its own words: it is the usual first mistake.
  void check(const redisReply& reply, std::string_view what) const {
    if (reply.type != REDIS_REPLY_ERROR) return;
    const auto text = reply_text(reply);
    if (text.starts_with("NOAUTH")) {
      fail(what, "the server requires a password", "set TYKHOOK_REDIS_PASSWORD");
    }
    fail(what, text, "check the server's state and configuration");
  }

  Context connect() const {
    const SigpipeBlock block;
    Context context(redisConnectWithTimeout(address_.host.c_str(), address_.port, timeout_));
    if (!context) fail("cannot connect", "out of memory", connect_hint);
    if (context->err != 0) fail("cannot connect", context->errstr, connect_hint);
    // While nothing listens on a local port in the ephemeral range, a connection to it can get
    // that same port as its own and be connected to itself: every command would come back as
    // its reply. Refused like a closed port.
    if (connected_to_itself(context->fd)) {
      fail("cannot connect", "Connection refused", connect_hint);
    }
    if (redisSetTimeout(context.get(), timeout_) != REDIS_OK) {
      fail("cannot connect", context->errstr, connect_hint);
    }
    redisEnableKeepAlive(context.get());
    if (password_) {
      Reply reply(static_cast<redisReply*>(
          redisCommand(context.get(), "AUTH %b", password_->data(), password_->size())));
      if (!reply) fail("cannot authenticate", context->errstr, io_hint);
      // The server's words (never the password) say whether it was wrong or not expected.
      if (reply->type == REDIS_REPLY_ERROR) {
        fail("cannot authenticate", reply_text(*reply), "check TYKHOOK_REDIS_PASSWORD");
      }
    }
    if (address_.db != 0) {
      Reply reply(static_cast<redisReply*>(redisCommand(context.get(), "SELECT %d", address_.db)));
      if (!reply) fail("cannot select the database", context->errstr, io_hint);
      if (reply->type == REDIS_REPLY_ERROR && !reply_text(*reply).starts_with("NOAUTH")) {
        fail("cannot select database " + std::to_string(address_.db), reply_text(*reply),
             "use a database number that the server has (its \"databases\" setting)");
      }
      check(*reply, "cannot connect");
    }
    Reply reply(static_cast<redisReply*>(redisCommand(context.get(), "PING")));
    if (!reply) fail("cannot connect", context->errstr, connect_hint);
    check(*reply, "cannot connect");
    if (reply->type != REDIS_REPLY_STATUS || reply_text(*reply) != "PONG") {
      fail("cannot connect", "the server did not answer PING with PONG",
           "check that the address is a Redis server");
    }
    return context;
  }

  // Runs one command on a pooled connection. A connection that fails (the server restarted or
  // went away) is replaced by a new one once and the command is sent again; `retried` tells
  // the caller that the first attempt's effect is unknown.
  template <class Send>
  Reply execute(std::string_view what, Send&& send, bool* retried = nullptr) {
    const SigpipeBlock block;
    Context context = acquire();
    Reply reply(static_cast<redisReply*>(send(context.get())));
    if (!reply) {
      context = connect();
      if (retried != nullptr) *retried = true;
      reply.reset(static_cast<redisReply*>(send(context.get())));
      if (!reply) fail(what, context->errstr, io_hint);
    }
    // An error reply comes over a healthy connection: keep it for the next command.
    give_back(std::move(context));
    check(*reply, what);
    return reply;
  }

  Context acquire() {
    {
      const std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        Context context = std::move(idle_.back());
        idle_.pop_back();
        return context;
      }
    }
    return connect();
  }

  void give_back(Context context) {
    const std::lock_guard lock(mutex_);
    if (context->err == 0 && idle_.size() < max_idle_connections) {
      idle_.push_back(std::move(context));
    }
  }

  const RedisAddress address_;
  const std::optional<std::string> password_;
  const std::string uri_;
  const timeval timeout_;
  std::string token_prefix_;
  std::atomic<std::uint64_t> counter_{0};
  // hiredis contexts are not thread-safe: each is used by one thread between acquire and
  // give_back.
  std::mutex mutex_;
  std::vector<Context> idle_;
};

}  // namespace

std::unique_ptr<Store> open_redis_store(RedisAddress address, std::optional<std::string> password,
                                        std::string uri, std::chrono::milliseconds timeout) {
  return std::make_unique<RedisStore>(std::move(address), std::move(password), std::move(uri),
                                      timeout);
}

}  // namespace tykhook::detail
