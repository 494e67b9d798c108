#include "redis_connection.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <cstring>
#include <string>
#include <utility>

#include "hex.h"
#include "tykhook/error.h"

namespace tykhook::detail {
namespace {

// Connections kept open between commands; more callers at once open more, and close them after.
constexpr std::size_t max_idle_connections = 8;

constexpr std::string_view connect_hint = "start redis-server or fix the address";
constexpr std::string_view io_hint = "check that redis-server is running and reachable";

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

}  // namespace

std::string_view reply_text(const redisReply& reply) {
  return std::string_view(reply.str, static_cast<std::size_t>(reply.len));
}

RedisScript::RedisScript(std::string script_text) : text(std::move(script_text)) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  for (const unsigned char byte : digest) {
    sha1.push_back(hex_digits[byte >> 4]);
    sha1.push_back(hex_digits[byte & 0xf]);
  }
}

void RedisConnections::ContextFree::operator()(redisContext* context) const { redisFree(context); }

RedisConnections::RedisConnections(RedisAddress address, std::optional<std::string> password,
                                   std::string uri, std::chrono::milliseconds timeout)
    : address_(std::move(address)),
      password_(std::move(password)),
      uri_(std::move(uri)),
      timeout_(to_timeval(timeout)) {
  idle_.push_back(connect());
}

RedisConnections::~RedisConnections() = default;

void RedisConnections::fail(std::string_view what, std::string_view detail,
                            std::string_view how) const {
  throw Error(where(uri_) + std::string(what) + ": " + std::string(detail) + "; " +
              std::string(how));
}

// Throws for an error reply. NOAUTH gets its own words: it is the usual first mistake.
void RedisConnections::check(const redisReply& reply, std::string_view what) const {
  if (reply.type != REDIS_REPLY_ERROR) return;
  const auto text = reply_text(reply);
  if (text.starts_with("NOAUTH")) {
    fail(what, "the server requires a password", "set TYKHOOK_REDIS_PASSWORD");
  }
  fail(what, text, "check the server's state and configuration");
}

RedisConnections::Context RedisConnections::connect() const {
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

Reply RedisConnections::send(redisContext* context, const std::vector<std::string_view>& args) {
  std::vector<const char*> data;
  std::vector<std::size_t> sizes;
  data.reserve(args.size());
  sizes.reserve(args.size());
  for (const auto arg : args) {
    data.push_back(arg.data());
    sizes.push_back(arg.size());
  }
  return Reply(static_cast<redisReply*>(
      redisCommandArgv(context, static_cast<int>(args.size()), data.data(), sizes.data())));
}

Reply RedisConnections::run(std::string_view what, const std::vector<std::string_view>& args,
                            const std::vector<std::string_view>* fallback, bool* retried) {
  const SigpipeBlock block;
  Context context = acquire();
  Reply reply = send(context.get(), args);
  if (!reply) {
    context = connect();
    if (retried != nullptr) *retried = true;
    reply = send(context.get(), args);
    if (!reply) fail(what, context->errstr, io_hint);
  }
  if (fallback != nullptr && reply->type == REDIS_REPLY_ERROR &&
      reply_text(*reply).starts_with("NOSCRIPT")) {
    reply = send(context.get(), *fallback);
    if (!reply) fail(what, context->errstr, io_hint);
  }
  // An error reply comes over a healthy connection: keep it for the next command.
  give_back(std::move(context));
  check(*reply, what);
  return reply;
}

Reply RedisConnections::command(std::string_view what, const std::vector<std::string_view>& args,
                                bool* retried) {
  return run(what, args, nullptr, retried);
}

Reply RedisConnections::script(std::string_view what, const RedisScript& script,
                               const std::vector<std::string_view>& keys,
                               const std::vector<std::string_view>& args, bool* retried) {
  const std::string key_count = std::to_string(keys.size());
  std::vector<std::string_view> by_sha{"EVALSHA", script.sha1, key_count};
  by_sha.insert(by_sha.end(), keys.begin(), keys.end());
  by_sha.insert(by_sha.end(), args.begin(), args.end());
  std::vector<std::string_view> by_text = by_sha;
  by_text[0] = "EVAL";
  by_text[1] = script.text;
  return run(what, by_sha, &by_text, retried);
}

RedisConnections::Context RedisConnections::acquire() {
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

void RedisConnections::give_back(Context context) {
  const std::lock_guard lock(mutex_);
  if (context->err == 0 && idle_.size() < max_idle_connections) {
    idle_.push_back(std::move(context));
  }
}

}  // namespace tykhook::detail
