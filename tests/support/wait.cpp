#include "wait.h"

#include <doctest/doctest.h>

#include <string>
#include <thread>

namespace tykhook::test {

bool poll_until(const std::function<bool()>& holds, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (holds()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

bool wait_until(std::string_view what, const std::function<bool()>& holds,
                std::chrono::milliseconds timeout, std::chrono::milliseconds interval) {
  if (poll_until(holds, timeout, interval)) return true;
  FAIL_CHECK("waited " << timeout.count() << " ms for " << std::string(what)
                       << ", and it did not happen");
  return false;
}

}  // namespace tykhook::test
