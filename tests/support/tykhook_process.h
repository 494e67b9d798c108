#pragma once

// Running the built `tykhook` binary: to completion with its input given, or in the background
// (`listen`) with its output read as it comes.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace tykhook::test {

/// What a finished process left: exit status and its two output streams, kept apart.
struct Run {
  int status = -1;  ///< exit status, or 128 + signal number
  std::string out;
  std::string err;
};

/// Runs the built `tykhook` with `args`, feeding `input` to its standard input, with the
/// environment variables in `env` set (an empty value unsets one). Kills it after `timeout`.
Run run_tykhook(const std::vector<std::string>& args, const std::string& input = {},
                const std::map<std::string, std::string>& env = {},
                std::chrono::seconds timeout = std::chrono::seconds(30));

/// The built `tykhook` running in the background (e.g. `listen`), its standard output and
/// standard error collected by a thread as they come; standard input is empty.
class Background {
 public:
  /// Starts `tykhook` with `args`, the environment changed as for run_tykhook.
  explicit Background(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env = {});
  /// Kills the process if it still runs, and waits for it.
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  /// The next line of standard error, without its newline, waiting up to `timeout` for it;
  /// nullopt when none came in time or the stream ended.
  std::optional<std::string> next_error_line(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Sends `signal_number` to the process.
  void signal(int signal_number) const;
  /// Waits up to `timeout` for the process to exit (kills it after that) and returns its exit
  /// status and everything it wrote.
  Run wait(std::chrono::seconds timeout = std::chrono::seconds(10));
  /// Everything written to standard error so far.
  std::string error_text();

 private:
  void collect(int out_fd, int err_fd);

  pid_t pid_ = -1;
  std::optional<int> status_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string out_, err_;
  std::size_t err_read_ = 0;  // bytes of err_ already returned as lines
  bool ended_ = false;
  std::thread collector_;
};

/// The port in `tykhook listen`'s first line, "tykhook listening on http://HOST:PORT" or with
/// --log-format json {"time": ..., "listening": "http://HOST:PORT"}; -1 when the line has
/// neither form.
int listening_port(const std::string& first_line);

/// Reads `tykhook listen`'s start-up lines from `process`: from its first line to the one that
/// says whether deliveries are kept ("tykhook listen: kept: ..." / "tykhook listen: not kept:
/// ...", or the JSON object with "deliveries_kept"), or to an error line. Stops early, with the
/// lines read so far, when no line comes within `timeout`.
std::vector<std::string> read_startup_lines(
    Background& process, std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// A `tykhook listen` on a free loopback port with `--secret SECRET --store STORE` and `extra`
/// arguments, its start-up lines read; stopped with SIGTERM at destruction. The test fails when
/// it does not start.
class Listening {
 public:
  explicit Listening(const std::string& secret, const std::vector<std::string>& extra = {},
                     const std::string& store = "memory:");
  ~Listening();
  Listening(const Listening&) = delete;
  Listening& operator=(const Listening&) = delete;

  /// http://127.0.0.1:PORT and `path`.
  [[nodiscard]] std::string url(const std::string& path = "/hook") const;
  Background& process() { return process_; }

 private:
  Background process_;
  int port_ = -1;
};

/// How many entries of the queue in `store` are in `state`: the lines of `tykhook queue list
/// --store STORE --state STATE`. Throws std::runtime_error, with the command's error, when it
/// fails.
std::size_t in_state(const std::string& store, const std::string& state);

}  // namespace tykhook::test
