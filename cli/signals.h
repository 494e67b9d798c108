#pragma once

#include <signal.h>

#include <atomic>
#include <functional>
#include <thread>

namespace tykhook::cli {

/// Prepares this process to be stopped by SIGINT or SIGTERM: restores their default action
/// (a shell starts background jobs with SIGINT ignored) and blocks them in this thread and in
/// every thread started from here on, and ignores SIGPIPE; with `reload`, SIGHUP too. Call it
/// before starting any thread; returns the blocked set, for StopSignals.
[[nodiscard]] sigset_t block_stop_signals(bool reload = false);

/// A thread that takes the blocked `signals` with sigwait, so that stopping runs outside a
/// signal handler: the first SIGINT or SIGTERM calls `stop`, a second one `abandon` (which must
/// not return); each SIGHUP calls `reload` until stopping begins. The destructor ends the thread.
class StopSignals {
 public:
  StopSignals(sigset_t signals, std::function<void()> stop, std::function<void()> abandon,
              std::function<void()> reload = {});
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  ~StopSignals();

 private:
  void run();

  sigset_t signals_;
  std::function<void()> stop_;
  std::function<void()> abandon_;
  std::function<void()> reload_;
  std::atomic<bool> done_{false};
  std::thread waiter_;  // last: it starts once the members above are ready
};

}  // namespace tykhook::cli
