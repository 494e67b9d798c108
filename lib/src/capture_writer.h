#pragma once

// Private to the library: the receiver's capture files, written so that a crash leaves each one
// complete or absent.

#include <filesystem>
#include <string>
#include <string_view>

#include "group_commit.h"
#include "tykhook/request.h"
#include "tykhook/timestamp.h"

namespace tykhook::detail {

/// The name of a capture file: the arrival time in UTC with nanoseconds at a fixed width, then
/// the idempotency key, so that names sort by arrival time:
/// "20240424T152604.329072196Z-<64 hex digits>.json".
[[nodiscard]] std::string capture_file_name(TimePoint received, std::string_view key);

/// Writes tykhook JSON captures (write_json_capture) into one directory. Each file has mode
/// 0600 (it holds users' personal data) and is written to a hidden temporary name, fsynced,
/// renamed, and the directory fsynced, before write() returns. Safe from many threads at once;
/// concurrent writes share their directory fsyncs.
class CaptureWriter {
 public:
  /// Opens `dir`, creating it with mode 0700 when missing; throws tykhook::Error naming it.
  explicit CaptureWriter(std::filesystem::path dir);
  ~CaptureWriter();
  CaptureWriter(const CaptureWriter&) = delete;
  CaptureWriter& operator=(const CaptureWriter&) = delete;

  /// Writes `request`, received at `received`, whose body has the idempotency key `key`, and
  /// returns the file's path. Throws tykhook::Error naming the file when the disk fails (full,
  /// gone); no temporary file is left behind then.
  std::filesystem::path write(const Request& request, TimePoint received, std::string_view key);

 private:
  struct DirectorySync {
    int error = 0;
  };

  std::filesystem::path dir_;
  int dir_fd_ = -1;
  GroupCommit<DirectorySync> directory_syncs_;
};

}  // namespace tykhook::detail
