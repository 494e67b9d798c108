#include "support/redis.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>

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

}  // namespace tykhook::test
