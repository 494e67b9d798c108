#include "signals.h"

#include <pthread.h>

#include <utility>

namespace tykhook::cli {

sigset_t block_stop_signals(bool reload) {
  // An ignored signal is discarded even while blocked: restore the default so that `kill -INT`
  // stops a background job too.
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  // A log reader that goes away (`listen 2>&1 | head`) must not take deliveries down with it.
  signal(SIGPIPE, SIG_IGN);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  if (reload) sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

StopSignals::StopSignals(sigset_t signals, std::function<void()> stop,
                         std::function<void()> abandon, std::function<void()> reload)
    : signals_(signals),
      stop_(std::move(stop)),
      abandon_(std::move(abandon)),
      reload_(std::move(reload)),
      waiter_([this] { run(); }) {}

StopSignals::~StopSignals() {
  done_ = true;
  pthread_kill(waiter_.native_handle(), SIGTERM);
  waiter_.join();
}

void StopSignals::run() {
  for (bool stopping = false;;) {
    int signal = 0;
    if (sigwait(&signals_, &signal) != 0 || done_.load()) return;
    if (signal == SIGHUP) {
      if (!stopping && reload_) reload_();
      continue;
    }
    if (!stopping) {
      stopping = true;
      stop_();
      continue;
    }
    abandon_();
  }
}

}  // namespace tykhook::cli
