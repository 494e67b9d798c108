#include "support/redis.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <utility>

#include "support/loopback.h"
#include "support/process.h"
#include "support/wait.h"

namespace tykhook::test {
namespace {

bool ci() {
  const char* value = std::getenv("CI");
  return value != nullptr && *value != '\0';
}

}  // namespace

std::string unique_name() {
  static std::atomic<int> counter{0};
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  return std::to_string(getpid()) + "-" + std::to_string(now) + "-" + std::to_string(++counter);
}

void redis_unavailable(std::string_view why, std::string_view fix) {
  const std::string reason = std::string(why) + "; " + std::string(fix);
  if (ci()) {
    FAIL_CHECK("redis tests cannot run and CI is set: " << reason);
  } else {
    MESSAGE("redis tests skipped: " << reason);
  }
}

std::optional<std::string> redis_test_uri() {
  const char* value = std::getenv("TYKHOOK_TEST_REDIS_URI");
  if (value == nullptr || *value == '\0') {
    redis_unavailable("TYKHOOK_TEST_REDIS_URI is unset",
                      "set TYKHOOK_TEST_REDIS_URI=redis://127.0.0.1:PORT");
    return std::nullopt;
  }
  const std::string uri = value;
  return uri + (uri.find('?') == std::string::npos ? "?" : "&") +
         "prefix=tykhook-test:" + unique_name() + ":";
}

bool redis_server_on_path() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path == nullptr ? "" : path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (!dir.empty() && access((dir + "/redis-server").c_str(), X_OK) == 0) return true;
  }
  return false;
}

RedisServer::RedisServer(std::vector<std::string> extra_args)
    : port_(free_port()), extra_args_(std::move(extra_args)) {
  start();
}

RedisServer::~RedisServer() { stop(); }

void RedisServer::start() {
  std::vector<std::string> args = {"redis-server",
                                   "--port",
                                   std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "no",
                                   "--daemonize",
                                   "no",
                                   "--dir",
                                   std::filesystem::temp_directory_path().string()};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  pid_ = spawn(args);
  REQUIRE(wait_until("redis-server to accept connections on " + uri(),
                     [this] { return accepts_connections(port_); }));
}

void RedisServer::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  wait_exit(pid_);
  pid_ = -1;
}

}  // namespace tykhook::test
