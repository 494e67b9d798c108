#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
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

}  // namespace tykhook::test
