#pragma once

// Temporary directories and the files of a test: what it writes, reads back and lists.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace tykhook::test {

/// A fresh directory (under the system's temporary directory, or `parent`), removed with all
/// it holds at destruction.
class TempDir {
 public:
  explicit TempDir(const std::filesystem::path& parent = std::filesystem::temp_directory_path());
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  /// The path of `name` inside the directory (the file need not exist).
  std::string file(std::string_view name) const;
  /// Writes `bytes` to `name` inside the directory and returns its path.
  std::string write(std::string_view name, std::string_view bytes) const;

 private:
  std::filesystem::path path_;
};

/// The bytes of the file at `path`; "" when it cannot be read.
std::string read_file(const std::filesystem::path& path);

/// The whole lines of the file at `path`, without their "\n": a last line without one is left
/// out (a writer that was killed did not finish it).
std::vector<std::string> whole_lines(const std::filesystem::path& path);

/// Writes `bytes` to the file at `path`, replacing what it held.
void write_file(const std::filesystem::path& path, std::string_view bytes);

/// The entries of `dir`, sorted; none when it does not exist.
std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir);

/// Reads a file of the source tree (relative to the repository root) as bytes; throws when it
/// cannot be read.
std::string source_file(const std::string& relative);

/// The demo secret of samples/ (without its trailing newline).
std::string demo_secret();

}  // namespace tykhook::test
