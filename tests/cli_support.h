#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
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

/// A fresh directory under the system's temporary directory, removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  /// Writes `bytes` to `name` inside the directory and returns its path.
  std::string write(const std::string& name, const std::string& bytes) const;

 private:
  std::filesystem::path path_;
};

/// Reads a file of the source tree (relative to the repository root) as bytes.
std::string source_file(const std::string& relative);

/// The demo secret of samples/ (without its trailing newline).
std::string demo_secret();

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

}  // namespace tykhook::test
