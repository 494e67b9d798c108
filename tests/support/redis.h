#pragma once

// The shared Redis of the store tests: TYKHOOK_TEST_REDIS_URI names it (CI sets it, and with
// CI set and no server the Redis tests fail; a developer without one gets a hint).

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tykhook::test {

/// A run-unique text, so that concurrent or repeated runs never share files or Redis keys.
std::string unique_name();

/// When a Redis-backed test cannot run, CI must fail loudly while a developer gets a hint.
void redis_unavailable(std::string_view why, std::string_view fix);

/// The shared server's URI with a run-unique key prefix, or nullopt (after a message).
std::optional<std::string> redis_test_uri();

/// Whether redis-server is on PATH, for the tests that start servers of their own.
bool redis_server_on_path();

/// A redis-server of the test's own, without persistence, that the test can kill and restart.
class RedisServer {
 public:
  explicit RedisServer(std::vector<std::string> extra_args = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  std::string uri() const { return "redis://127.0.0.1:" + std::to_string(port_); }

  /// Starts it (again, on the same port); returns once it accepts connections.
  void start();
  /// SIGKILL, as in a crash: no clean shutdown, no goodbye to the clients.
  void stop();

 private:
  int port_;
  std::vector<std::string> extra_args_;
  pid_t pid_ = -1;
};

}  // namespace tykhook::test
