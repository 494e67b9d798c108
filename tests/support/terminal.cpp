#include "terminal.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "process.h"

namespace tykhook::test {

Run run_tykhook_at_terminal(const std::vector<std::string>& args, std::chrono::seconds timeout) {
  int terminal = -1;
  int device = -1;
  if (::openpty(&terminal, &device, nullptr, nullptr, nullptr) != 0) {
    throw std::runtime_error("openpty failed");
  }
  // Raw: no "\n" -> "\r\n" on output, so the test sees the program's own bytes.
  termios mode{};
  if (::tcgetattr(device, &mode) != 0) throw std::runtime_error("tcgetattr failed");
  ::cfmakeraw(&mode);
  if (::tcsetattr(device, TCSANOW, &mode) != 0) throw std::runtime_error("tcsetattr failed");
  // Close-on-exec, so that the child keeps only the descriptors it is given.
  ::fcntl(terminal, F_SETFD, FD_CLOEXEC);
  ::fcntl(device, F_SETFD, FD_CLOEXEC);
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");

  const pid_t pid = spawn_program(TYKHOOK_EXE, args, {}, {-1, device, err_pipe[1]});
  ::close(device);
  ::close(err_pipe[1]);

  // Once the program has exited and no one holds the terminal's device, reading the terminal
  // gives what is left and then fails with EIO: that is its end of output.
  Run run;
  int fds[2] = {terminal, err_pipe[0]};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (fds[0] >= 0 || fds[1] >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd ready[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
    if (::poll(ready, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i] < 0 || (ready[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buffer[65536];
      const ssize_t n = ::read(fds[i], buffer, sizeof buffer);
      if (n > 0) {
        (i == 0 ? run.out : run.err).append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i]);
        fds[i] = -1;
      }
    }
  }
  for (const int fd : fds) {
    if (fd >= 0) ::close(fd);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

}  // namespace tykhook::test
