#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "tykhook/envelope.h"
#include "tykhook/targets.h"
#include "tykhook/timestamp.h"

extern char** environ;

namespace tykhook {

namespace {

using Clock = std::chrono::steady_clock;

// EX_TEMPFAIL of sysexits.h: "try again later" (DESIGN.md, "Handing deliveries on").
constexpr int exit_tempfail = 75;

// What wait_child returns when the child's status went to another waitpid() in this process.
constexpr int lost_status = -1;

std::string errno_text(int error) { return std::generic_category().message(error); }

// Our own descriptor, closed once; every one is opened close-on-exec, so that a command that
// another thread starts at the same moment does not inherit it (a stray copy of a pipe's write
// end would keep the child's standard input from ever ending).
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// The spawn's attributes and file actions, destroyed on every path.
struct SpawnSetup {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnSetup() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

// Blocks SIGPIPE in this thread while the body is written, so that a command that exits
// without reading its input makes write() fail with EPIPE instead of killing the process.
// SIGPIPE from write() is sent to the writing thread, so a SIGPIPE pending here afterwards is
// ours: it is taken before the old mask comes back (unless one was pending before we began).
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlock() {
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec now{0, 0};
        while (sigtimedwait(&pipe_, nullptr, &now) == -1 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
};

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 60'000));
}

// Writes `body` to the child's input until it is all written, the child closes its end
// (EPIPE: it need not read), or the deadline passes; false only at the deadline.
bool write_body(int fd, std::string_view body, Clock::time_point deadline) {
  const SigpipeBlock block;
  while (!body.empty()) {
    const ssize_t wrote = ::write(fd, body.data(), body.size());
    if (wrote > 0) {
      body.remove_prefix(static_cast<std::size_t>(wrote));
      continue;
    }
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0 && errno != EAGAIN) return true;  // EPIPE or worse: the child's input ends
    if (Clock::now() >= deadline) return false;
    pollfd ready{.fd = fd, .events = POLLOUT, .revents = 0};
    ::poll(&ready, 1, remaining_ms(deadline));
  }
  return true;
}

// Waits for `pid` until the deadline; its wait status (lost_status when another part of the
// process reaped it), or nullopt when the time is up (the child is then still unreaped). A pidfd
// says when it exits; without one (an old kernel), the wait polls at a growing interval.
std::optional<int> wait_child(pid_t pid, Clock::time_point deadline) {
  const Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    int status = 0;
    const pid_t got = ::waitpid(pid, &status, WNOHANG);
    if (got == pid) return status;
    if (got < 0 && errno != EINTR) return lost_status;
    if (Clock::now() >= deadline) return std::nullopt;
    if (pidfd.get() >= 0) {
      pollfd ready{.fd = pidfd.get(), .events = POLLIN, .revents = 0};
      ::poll(&ready, 1, remaining_ms(deadline));
    } else {
      std::this_thread::sleep_for(std::min<Clock::duration>(pause, deadline - Clock::now()));
      pause = std::min(pause * 2, std::chrono::milliseconds(50));
    }
  }
}

std::string timeout_text(std::chrono::milliseconds timeout) {
  const auto ms = static_cast<std::uint64_t>(std::max<long long>(timeout.count(), 0));
  return format_duration(ms * 1'000'000, 5);
}

class ExecTarget final : public Target {
 public:
  explicit ExecTarget(ExecOptions options)
      : options_(std::move(options)), argv_(split_command(options_.command)) {
    description_ = "command " + argv_.front();
    // The environment is ours as it is now, minus the hidden variables and the ones that each
    // attempt sets: read once, so that attempts on many threads never read it while it changes.
    for (char** variable = environ; variable != nullptr && *variable != nullptr; ++variable) {
      const std::string_view entry(*variable);
      const std::string_view name = entry.substr(0, entry.find('='));
      const auto named = [name](std::string_view other) { return other == name; };
      if (std::any_of(options_.hidden_environment.begin(), options_.hidden_environment.end(),
                      named) ||
          std::any_of(std::begin(own_variables), std::end(own_variables), named)) {
        continue;
      }
      environment_.emplace_back(entry);
    }
  }

  AttemptResult attempt(const QueueEntry& entry) override {
    const auto deadline = Clock::now() + options_.timeout;
    const auto envelope = parse_envelope(entry.request.body).envelope;
    std::vector<std::string> environment = environment_;
    environment.push_back("TYKHOOK_EVENT=" + entry.event);
    environment.push_back("TYKHOOK_DELIVERY=" + entry.key);
    environment.push_back("TYKHOOK_ATTEMPT=" + std::to_string(entry.attempts));
    environment.push_back("TYKHOOK_TIMESTAMP=" + (envelope ? envelope->timestamp_text : ""));

    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) return cannot_start(errno);
    Fd read_end(ends[0]);
    Fd write_end(ends[1]);
    ::fcntl(write_end.get(), F_SETFL, O_NONBLOCK);

    SpawnSetup setup;
    // The child's input is the pipe; its output joins our standard error (never captured: it
    // may echo the body). dup2 clears close-on-exec on the copies, and only on them.
    posix_spawn_file_actions_adddup2(&setup.actions, read_end.get(), STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&setup.actions, STDERR_FILENO, STDOUT_FILENO);
    // Its own process group, so that a timeout kills what it started too; every signal at its
    // default and none blocked, whatever this thread blocks or the process ignores.
    sigset_t all;
    sigset_t none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setpgroup(&setup.attr, 0);
    posix_spawnattr_setsigdefault(&setup.attr, &all);
    posix_spawnattr_setsigmask(&setup.attr, &none);
    posix_spawnattr_setflags(
        &setup.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

    std::vector<char*> argv;
    for (auto& word : argv_) argv.push_back(word.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& variable : environment) envp.push_back(variable.data());
    envp.push_back(nullptr);

    pid_t pid = 0;
    // posix_spawnp: a program without a slash is looked up in PATH, as a shell user expects.
    if (const int error = ::posix_spawnp(&pid, argv.front(), &setup.actions, &setup.attr,
                                         argv.data(), envp.data());
        error != 0) {
      return cannot_start(error);
    }
    read_end.reset();  // the child's copy is the only reader now

    const bool written = write_body(write_end.get(), entry.request.body, deadline);
    write_end.reset();  // end of input
    const auto status = written ? wait_child(pid, deadline) : std::nullopt;
    if (!status) {
      ::kill(-pid, SIGKILL);
      int ignored = 0;
      while (::waitpid(pid, &ignored, 0) < 0 && errno == EINTR) {
      }
      return {AttemptOutcome::retry,
              description_ + " timed out after " + timeout_text(options_.timeout), std::nullopt};
    }
    return outcome_of(*status);
  }

  std::string describe() const override { return description_; }

 private:
  static constexpr std::string_view own_variables[] = {"TYKHOOK_EVENT", "TYKHOOK_DELIVERY",
                                                       "TYKHOOK_ATTEMPT", "TYKHOOK_TIMESTAMP"};

  // A command that cannot start is tried again: a deploy may be putting it in place, and a
  // delivery given up now would be lost, while a retry costs one failed spawn.
  AttemptResult cannot_start(int error) const {
    return {AttemptOutcome::retry, "cannot start " + description_ + ": " + errno_text(error),
            std::nullopt};
  }

  AttemptResult outcome_of(int status) const {
    // Nothing is done without a success that was seen (DESIGN.md).
    if (status == lost_status) {
      return {AttemptOutcome::retry,
              description_ + ": its exit status was taken by another waitpid() in the process",
              std::nullopt};
    }
    if (WIFEXITED(status)) {
      const int code = WEXITSTATUS(status);
      if (code == 0) return {};
      const std::string text = description_ + " exited " + std::to_string(code);
      if (code == exit_tempfail) {
        return {AttemptOutcome::retry, text + " (temporary failure)", std::nullopt};
      }
      return {AttemptOutcome::dead, text, std::nullopt};
    }
    const int signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    const char* name = signal != 0 ? ::sigabbrev_np(signal) : nullptr;
    return {AttemptOutcome::retry,
            description_ + " killed by signal " + std::to_string(signal) +
                (name != nullptr ? " (SIG" + std::string(name) + ")" : ""),
            std::nullopt};
  }

  ExecOptions options_;
  std::vector<std::string> argv_;
  std::string description_;
  std::vector<std::string> environment_;
};

}  // namespace

std::unique_ptr<Target> exec_target(ExecOptions options) {
  return std::make_unique<ExecTarget>(std::move(options));
}

}  // namespace tykhook
