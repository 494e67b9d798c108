#pragma once

// Private to the library: the receiver's capture files, written so that a crash leaves each one
// complete or absent.

#include <filesystem>
#include <string>
#include <string_view>

#include "group_commit.h"
#include "tykhook/capture.h"
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
  /// Opens `dir`, creating it with mode 0700 when missing, and recovers what an interrupted
  /// writer left in it (recover()); throws tykhook::Error naming it.
  explicit CaptureWriter(std::filesystem::path dir);
  ~CaptureWriter();
  CaptureWriter(const CaptureWriter&) = delete;
  CaptureWriter& operator=(const CaptureWriter&) = delete;

  /// Writes `request`, received at `received`, whose body has the idempotency key `key`, and
  /// returns the file's path. Throws tykhook::Error naming the file when the disk fails (full,
  /// gone); no temporary file is left behind then.
  std::filesystem::path write(const Request& request, TimePoint received, std::string_view key);

  /// What the constructor recovered.
  [[nodiscard]] const CaptureRecovery& recovery() const { return recovery_; }

 private:
  // A temporary file is left behind when its writer dies between creating it and renaming it.
  // If it holds a whole capture whose body has the key in its name, the delivery was in hand
  // (its claim may be recorded) and only the rename was missing: it gets its name. Otherwise
  // it was never complete, and goes. A file that another live writer holds (its lock) or that
  // changed in the last few seconds is left alone.
  CaptureRecovery recover();

  struct DirectorySync {
    int error = 0;
  };

  std::filesystem::path dir_;
  int dir_fd_ = -1;
  GroupCommit<DirectorySync> directory_syncs_;
  CaptureRecovery recovery_;
};

}  // namespace tykhook::detail
