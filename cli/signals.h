#pragma once

#include <signal.h>

#include <atomic>
#include <functional>
#include <thread>

namespace tykhook::cli {

/// Prepares this process to be stopped by SIGINT or SIGTERM: restores their default action
/// (a shell starts background jobs with SIGINT ignored) and blocks them in this thread and in
/// every thread started from here on, and ignores SIGPIPE. Call it before starting any thread;
/// returns the blocked set, for StopSignals.
[[nodiscard]] sigset_t block_stop_signals();

/// A thread that takes the blocked `signals` with sigwait, so that stopping runs outside a
/// signal handler: the first signal calls `stop`, a second one `abandon` (which must not return).
/// The destructor ends the thread.
class StopSignals {
 public:
  StopSignals(sigset_t signals, std::function<void()> stop, std::function<void()> abandon);
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  ~StopSignals();

 private:
  void run();

  sigset_t signals_;
  std::function<void()> stop_;
  std::function<void()> abandon_;
  std::atomic<bool> done_{false};
  std::thread waiter_;  // last: it starts once the members above are ready
};

}  // namespace tykhook::cli
