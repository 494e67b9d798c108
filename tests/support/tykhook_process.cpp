#include "tykhook_process.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "process.h"
#include "wait.h"

namespace tykhook::test {
namespace {

// A waitpid status as Run keeps it: the exit status, or 128 + the signal that ended it.
int exit_status(int wait_status) {
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
}

}  // namespace

Run run_tykhook(const std::vector<std::string>& args, const std::string& input,
                const std::map<std::string, std::string>& env, std::chrono::seconds timeout) {
  // Close-on-exec: a child started meanwhile by another thread must not keep our pipes open.
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
      pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  const pid_t pid = spawn_program(TYKHOOK_EXE, args, env, {in_pipe[0], out_pipe[1], err_pipe[1]});
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
  signal(SIGPIPE, SIG_IGN);

  Run run;
  std::size_t written = 0;
  int in_fd = in_pipe[1];
  if (input.empty()) {
    close(in_fd);
    in_fd = -1;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int open_outputs = 2;
  while (open_outputs > 0) {
    pollfd fds[3] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}, {in_fd, POLLOUT, 0}};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill(pid, SIGKILL);
      break;
    }
    if (poll(fds, in_fd >= 0 ? 3 : 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
        char buffer[65536];
        const ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
        if (n > 0) {
          (i == 0 ? run.out : run.err).append(buffer, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
          close(fds[i].fd);
          (i == 0 ? out_pipe[0] : err_pipe[0]) = -1;
          --open_outputs;
        }
      }
    }
    if (in_fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t n = write(in_fd, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<std::size_t>(n);
      if (n < 0 && errno != EAGAIN && errno != EINTR) written = input.size();
      if (written == input.size()) {
        close(in_fd);
        in_fd = -1;
      }
    }
  }
  if (in_fd >= 0) close(in_fd);
  for (int fd : {out_pipe[0], err_pipe[0]}) {
    if (fd >= 0) close(fd);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  run.status = exit_status(status);
  return run;
}

Background::Background(const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& env) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  pid_ = spawn_program(TYKHOOK_EXE, args, env, {-1, out_pipe[1], err_pipe[1]});
  close(out_pipe[1]);
  close(err_pipe[1]);
  collector_ = std::thread([this, out = out_pipe[0], err = err_pipe[0]] { collect(out, err); });
}

Background::~Background() {
  if (!status_) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  if (collector_.joinable()) collector_.join();
}

void Background::collect(int out_fd, int err_fd) {
  int fds[2] = {out_fd, err_fd};
  int open_count = 2;
  while (open_count > 0) {
    pollfd polled[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
    if (poll(polled, 2, -1) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i] < 0 || (polled[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buffer[65536];
      const ssize_t n = read(fds[i], buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      const std::lock_guard lock(mutex_);
      if (n > 0) {
        (i == 0 ? out_ : err_).append(buffer, static_cast<std::size_t>(n));
      } else {
        close(fds[i]);
        fds[i] = -1;
        --open_count;
      }
      changed_.notify_all();
    }
  }
  const std::lock_guard lock(mutex_);
  ended_ = true;
  changed_.notify_all();
}

std::optional<std::string> Background::next_error_line(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  const bool found = changed_.wait_for(
      lock, timeout, [this] { return err_.find('\n', err_read_) != std::string::npos || ended_; });
  const auto end = err_.find('\n', err_read_);
  if (!found || end == std::string::npos) return std::nullopt;
  std::string line = err_.substr(err_read_, end - err_read_);
  err_read_ = end + 1;
  return line;
}

void Background::signal(int signal_number) const { kill(pid_, signal_number); }

Run Background::wait(std::chrono::seconds timeout) {
  const auto exited = [this] {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
    status_ = exit_status(status);
    return true;
  };
  if (!status_ && !poll_until(exited, timeout, std::chrono::milliseconds(10))) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    status_ = exit_status(status);
  }
  if (collector_.joinable()) collector_.join();
  const std::lock_guard lock(mutex_);
  return Run{*status_, out_, err_};
}

std::string Background::error_text() {
  const std::lock_guard lock(mutex_);
  return err_;
}

int listening_port(const std::string& first_line) {
  std::string url;
  if (first_line.starts_with("{")) {
    const auto line = nlohmann::json::parse(first_line, nullptr, false);
    if (!line.is_object() || !line.contains("listening") || !line["listening"].is_string()) {
      return -1;
    }
    url = line["listening"].get<std::string>();
  } else {
    const std::string text_prefix = "tykhook listening on ";
    if (!first_line.starts_with(text_prefix)) return -1;
    url = first_line.substr(text_prefix.size());
  }
  const std::string scheme = "http://";
  const auto colon = url.rfind(':');
  if (!url.starts_with(scheme) || colon == std::string::npos || colon < scheme.size()) return -1;
  try {
    std::size_t used = 0;
    const int port = std::stoi(url.substr(colon + 1), &used);
    return used == url.size() - colon - 1 ? port : -1;
  } catch (const std::exception&) {
    return -1;
  }
}

std::vector<std::string> read_startup_lines(Background& process,
                                            std::chrono::milliseconds timeout) {
  std::vector<std::string> lines;
  while (auto line = process.next_error_line(timeout)) {
    lines.push_back(*line);
    if (line->starts_with("{")) {
      const auto object = nlohmann::json::parse(*line, nullptr, false);
      if (object.is_object() && (object.contains("deliveries_kept") || object.contains("error"))) {
        break;
      }
    } else if (line->starts_with("tykhook listen: kept: ") ||
               line->starts_with("tykhook listen: not kept: ") ||
               !line->starts_with("tykhook listen")) {
      break;  // the last start-up line, or not a start-up line at all
    }
  }
  return lines;
}

namespace {

std::vector<std::string> listen_args(const std::string& secret,
                                     const std::vector<std::string>& extra,
                                     const std::string& store) {
  std::vector<std::string> args = {"listen", "--port", "0", "--secret", secret, "--store", store};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

}  // namespace

Listening::Listening(const std::string& secret, const std::vector<std::string>& extra,
                     const std::string& store)
    : process_(listen_args(secret, extra, store)) {
  const auto startup = read_startup_lines(process_);
  port_ = listening_port(startup.empty() ? std::string() : startup.front());
  INFO("listen's standard error: " << process_.error_text());
  REQUIRE(port_ > 0);
}

Listening::~Listening() {
  process_.signal(SIGTERM);
  process_.wait();
}

std::string Listening::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::size_t in_state(const std::string& store, const std::string& state) {
  const Run run = run_tykhook({"queue", "list", "--store", store, "--state", state});
  if (run.status != 0) {
    throw std::runtime_error("tykhook queue list --state " + state + " failed: " + run.err);
  }
  std::size_t lines = 0;
  for (const char c : run.out) lines += c == '\n';
  return lines;
}

}  // namespace tykhook::test
