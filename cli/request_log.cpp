#include "request_log.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace tykhook::cli {
namespace {

std::string milliseconds_text(std::chrono::microseconds duration) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", static_cast<double>(duration.count()) / 1000.0);
  return text;
}

void text_line(const RequestRecord& record, std::string& line) {
  line += time_text(record.time);
  line += ' ';
  line += record.client;
  line += ' ';
  line += loggable(record.method, 16);
  line += ' ';
  line += loggable(record.path, 200);
  line += ' ';
  line += record.event ? loggable(*record.event, 64) : "-";
  line += ' ';
  line += record.verdict.empty() ? std::string_view("-") : std::string_view(record.verdict);
  line += ' ';
  line += std::to_string(record.status);
  line += ' ';
  line += milliseconds_text(record.duration);
  line += "ms";
  if (record.secret_index) {
    line += " secret #";
    line += std::to_string(*record.secret_index);
    line += ' ';
    line += record.secret_fingerprint;
  }
  if (!record.error.empty()) {
    line += " error: ";
    line += loggable(record.error, 1000, true);
  }
  line += '\n';
}

void json_line(const RequestRecord& record, std::string& line) {
  nlohmann::ordered_json object;
  object["time"] = time_text(record.time);
  object["client"] = record.client;
  object["method"] = record.method;
  object["path"] = record.path;
  object["event"] = record.event ? nlohmann::ordered_json(*record.event) : nullptr;
  object["verdict"] =
      record.verdict.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(record.verdict);
  object["status"] = record.status;
  object["ms"] = static_cast<double>(record.duration.count()) / 1000.0;
  if (record.secret_index) {
    object["secret"] = {{"index", *record.secret_index},
                        {"fingerprint", record.secret_fingerprint}};
  }
  if (!record.error.empty()) object["error"] = record.error;
  line += object.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  line += '\n';
}

void attempt_text_line(const AttemptReport& report, TimePoint now, std::string& line) {
  line += time_text(now);
  line += " delivery ";
  line += report.entry.key.substr(0, 16);
  line += ' ';
  line += loggable(report.entry.event, 64);
  line += " attempt ";
  line += std::to_string(report.entry.attempts);
  line += ' ';
  line += to_string(report.result.outcome);
  line += " -> ";
  line += to_string(report.record.state);
  if (report.record.next_attempt) {
    line += " next ";
    line += time_text(*report.record.next_attempt);
  }
  line += ' ';
  line += milliseconds_text(report.duration);
  line += "ms";
  if (report.record.error) {
    line += " error: ";
    line += loggable(*report.record.error, 1000, true);
  }
  line += '\n';
}

void attempt_json_line(const AttemptReport& report, TimePoint now, std::string& line) {
  nlohmann::ordered_json object;
  object["time"] = time_text(now);
  object["delivery"] = report.entry.key;
  object["event"] = report.entry.event;
  object["attempt"] = report.entry.attempts;
  object["outcome"] = to_string(report.result.outcome);
  object["state"] = to_string(report.record.state);
  object["next_attempt"] = report.record.next_attempt
                               ? nlohmann::ordered_json(time_text(*report.record.next_attempt))
                               : nullptr;
  object["ms"] = static_cast<double>(report.duration.count()) / 1000.0;
  if (report.record.error) object["error"] = *report.record.error;
  line += object.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  line += '\n';
}

}  // namespace

RequestLog::RequestLog(bool json, bool quiet)
    : json_(json), quiet_(quiet), flusher_([this] { run(); }) {}

RequestLog::~RequestLog() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  flusher_.join();
  flush();
}

void RequestLog::write(const RequestRecord& record) {
  // --quiet keeps the lines that need someone's attention: the receiver's own failures.
  if (quiet_ && record.error.empty() && record.status < 500) return;
  // Formatted outside the lock, into a buffer that each thread reuses.
  thread_local std::string line;
  line.clear();
  if (json_) {
    json_line(record, line);
  } else {
    text_line(record, line);
  }
  gather(line);
}

void RequestLog::write(const AttemptReport& report) {
  if (quiet_ && report.result.outcome == AttemptOutcome::done) return;
  const TimePoint now = std::chrono::time_point_cast<TimePoint::duration>(Clock::now());
  std::string line;
  if (json_) {
    attempt_json_line(report, now, line);
  } else {
    attempt_text_line(report, now, line);
  }
  gather(line);
}

void RequestLog::gather(const std::string& line) {
  bool full = false;
  bool first = false;
  {
    const std::lock_guard lock(mutex_);
    first = pending_.empty();
    pending_ += line;
    full = pending_.size() >= max_pending;
  }
  // A log reader that does not keep up slows the requests down, as one write() each did,
  // rather than letting the buffer grow without bound.
  if (full) {
    flush();
  } else if (first) {
    wake_.notify_one();
  }
}

void RequestLog::flush() {
  const std::lock_guard writing(write_mutex_);
  std::string lines;
  {
    const std::lock_guard lock(mutex_);
    lines.swap(pending_);
  }
  if (lines.empty()) return;
  std::fwrite(lines.data(), 1, lines.size(), stderr);
  std::fflush(stderr);
}

// The flusher: sleeps until a line is gathered, waits `batch_delay` for more, writes them.
void RequestLog::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
    wake_.wait_for(lock, batch_delay, [this] { return stopping_; });
    lock.unlock();
    flush();
    lock.lock();
  }
}

}  // namespace tykhook::cli
