#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "output.h"
#include "tykhook/receiver.h"
#include "tykhook/timestamp.h"
#include "tykhook/worker.h"

namespace tykhook::cli {

/// One log line per request on standard error (DESIGN.md, "CLI contract"); lines of different
/// threads never interleave. Lines are gathered and written together, one write() for all the
/// lines of up to `batch_delay`: under load one write() per request was about 4 % of the
/// receiver's CPU (bench/README.md). Everything gathered is written on destruction and flush().
class RequestLog {
 public:
  /// Starts the thread that writes the lines: JSON lines when `json`; with `quiet`, only the
  /// requests that the receiver failed (5xx or an error).
  RequestLog(bool json, bool quiet);
  RequestLog(const RequestLog&) = delete;
  RequestLog& operator=(const RequestLog&) = delete;
  ~RequestLog();

  /// Gathers the line of `record`; writes at once when much is gathered.
  void write(const RequestRecord& record);
  /// Gathers the line of one attempt to hand a delivery on (with `quiet`, only failed ones). It
  /// names the delivery by its key, never shows its body or a header value.
  void write(const AttemptReport& report);

  /// Writes every line gathered so far, in order.
  void flush();

 private:
  // Long enough to gather the lines of many requests under load, short enough that a person
  // watching the terminal sees each line at once.
  static constexpr auto batch_delay = std::chrono::milliseconds(20);
  static constexpr std::size_t max_pending = 256 * 1024;

  void run();
  void gather(const std::string& line);

  bool json_;
  bool quiet_;
  std::mutex mutex_;        // guards pending_ and stopping_
  std::mutex write_mutex_;  // keeps the batches in order
  std::condition_variable wake_;
  std::string pending_;
  bool stopping_ = false;
  std::thread flusher_;  // last: it starts once the members above are ready
};

}  // namespace tykhook::cli
