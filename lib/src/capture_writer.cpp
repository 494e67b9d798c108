#include "capture_writer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <vector>

#include "tykhook/capture.h"
#include "tykhook/error.h"
#include "tykhook/timestamp.h"
#include "tykhook/verifier.h"

namespace tykhook::detail {
namespace {

std::string errno_text(int error) { return std::strerror(error); }

// Writes all of `bytes` to `fd`, resuming after signals and short writes.
bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) errno = EIO;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Leftovers younger than this may still be being written by a process that has not locked
// them yet (the lock follows the create at once).
constexpr auto settle_time = std::chrono::seconds(5);
// A capture holds at most the body limit of a receiver, in base64, with its headers.
constexpr off_t max_recovered_size = 256 * 1024 * 1024;

// "<capture name>" of a hidden ".<capture name>.tmp" that write() makes; empty for other names.
std::string_view temporary_of(std::string_view entry) {
  constexpr std::string_view suffix = ".json.tmp";
  // ".", then "YYYYMMDDThhmmss.nnnnnnnnnZ-" (27), 64 hex digits, ".json.tmp".
  if (entry.size() != 1 + 27 + 64 + suffix.size() || entry.front() != '.' ||
      !entry.ends_with(suffix) || entry[27] != '-') {
    return {};
  }
  return entry.substr(1, entry.size() - 1 - 4);
}

// The whole content of `fd`, or nothing when it cannot be read or is over `limit` bytes.
std::optional<std::string> read_all(int fd, off_t limit) {
  struct stat status {};
  if (::fstat(fd, &status) != 0 || status.st_size > limit) return std::nullopt;
  std::string text(static_cast<std::size_t>(status.st_size), '\0');
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::read(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    done += static_cast<std::size_t>(n);
  }
  return text;
}

}  // namespace

std::string capture_file_name(TimePoint received, std::string_view key) {
  // "2024-04-24T15:26:04.329072196Z" without its separators, so that names sort by time; the
  // shared formatter handles every TimePoint (splitting through sys_days would overflow).
  std::string name = format_rfc3339(received, 9);
  std::erase_if(name, [](char c) { return c == '-' || c == ':'; });
  return name + "-" + std::string(key) + ".json";
}

CaptureWriter::CaptureWriter(std::filesystem::path dir) : dir_(std::move(dir)) {
  const std::string where = "capture directory \"" + dir_.string() + "\"";
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    throw Error(where + ": cannot create: " + errno_text(errno) +
                "; create it, or choose a writable directory");
  }
  dir_fd_ = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd_ < 0) {
    throw Error(where + ": cannot open: " + errno_text(errno) + "; give a directory");
  }
  recovery_ = recover();
}

CaptureRecovery CaptureWriter::recover() {
  CaptureRecovery found;
  std::error_code error;
  std::vector<std::string> names;
  for (std::filesystem::directory_iterator it(dir_, error), end; !error && it != end;
       it.increment(error)) {
    const std::string entry = it->path().filename().string();
    if (!temporary_of(entry).empty()) names.push_back(entry);
  }
  // Compared as (seconds, nanoseconds) pairs: a file's time can be any year the file system
  // holds, and converting it to nanoseconds since the epoch could overflow.
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  const auto settled = [&now](const struct timespec& changed) {
    const auto limit = now.tv_sec - static_cast<time_t>(settle_time.count());
    return changed.tv_sec < limit || (changed.tv_sec == limit && changed.tv_nsec <= now.tv_nsec);
  };
  for (const std::string& entry : names) {
    const std::string name(temporary_of(entry));
    const int fd = ::openat(dir_fd_, entry.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat status {};
    const bool ours = ::fstat(fd, &status) == 0 && S_ISREG(status.st_mode) &&
                      settled(status.st_mtim) && ::flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (!ours) {
      ::close(fd);
      continue;
    }
    // One that cannot be read (or is larger than any capture) is left as it is.
    const std::optional<std::string> text = read_all(fd, max_recovered_size);
    if (!text) {
      ::close(fd);
      continue;
    }
    const std::vector<Capture> captures = read_captures(*text, entry);
    const std::string_view key =
        std::string_view(name).substr(name.size() - 64 - 5, 64);  // before ".json"
    const bool whole = captures.size() == 1 && captures.front().request &&
                       idempotency_key(captures.front().request->body) == key;
    // Whether its capture is there already: 1 yes, 0 no, -1 unknown.
    struct stat existing {};
    int captured = 1;
    if (::fstatat(dir_fd_, name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) != 0) {
      captured = errno == ENOENT ? 0 : -1;
    }
    if (!whole || captured == 1) {
      if (::unlinkat(dir_fd_, entry.c_str(), 0) == 0) ++found.removed;
    } else if (captured == 0 && ::renameat(dir_fd_, entry.c_str(), dir_fd_, name.c_str()) == 0) {
      ++found.recovered;
    }
    // A whole file that could not be renamed stays as it is, for the next start or a person.
    ::close(fd);
  }
  if (found.recovered + found.removed > 0) ::fsync(dir_fd_);
  return found;
}

CaptureWriter::~CaptureWriter() {
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

std::filesystem::path CaptureWriter::write(const Request& request, TimePoint received,
                                           std::string_view key) {
  const std::string name = capture_file_name(received, key);
  // A hidden name, so that `*.json` and readers of the directory never see a partial file.
  const std::string temporary = "." + name + ".tmp";
  const auto fail = [&](std::string_view step, int error) {
    ::unlinkat(dir_fd_, temporary.c_str(), 0);
    return Error((dir_ / name).string() + ": cannot " + std::string(step) + ": " +
                 errno_text(error) + "; free space in the capture directory, or choose another");
  };

  const std::string bytes = write_json_capture(request, received);
  const int fd = ::openat(dir_fd_, temporary.c_str(),
                          O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) throw fail("create", errno);
  // Held until the file has its name: recover() in another process leaves a locked file alone.
  ::flock(fd, LOCK_EX | LOCK_NB);
  // The mode is set explicitly: open() applies the umask, which may have removed nothing.
  const bool written = ::fchmod(fd, 0600) == 0 && write_all(fd, bytes) && ::fsync(fd) == 0;
  const int write_error = errno;
  if (::close(fd) != 0 && written) throw fail("write", errno);
  if (!written) throw fail("write", write_error);
  // The rename makes the file appear whole; fsyncing the directory makes the rename durable.
  if (::renameat(dir_fd_, temporary.c_str(), dir_fd_, name.c_str()) != 0) {
    throw fail("rename", errno);
  }
  // Group commit: one directory fsync makes every rename done before it durable, so
  // concurrent writes share one rather than queue for one each.
  DirectorySync sync;
  directory_syncs_.submit(sync, [this](std::vector<DirectorySync*>& batch) {
    const int error = ::fsync(dir_fd_) == 0 ? 0 : errno;
    for (DirectorySync* each : batch) each->error = error;
  });
  if (sync.error != 0) {
    // The file may outlive a crash or not: as it was never acknowledged, it goes.
    ::unlinkat(dir_fd_, name.c_str(), 0);
    throw Error((dir_ / name).string() +
                ": cannot sync the directory of: " + errno_text(sync.error) +
                "; free space in the capture directory, or choose another");
  }
  return dir_ / name;
}

}  // namespace tykhook::detail
