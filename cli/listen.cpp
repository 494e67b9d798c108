#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>

#include "commands.h"
#include "tykhook/receiver.h"
#include "tykhook/schema.h"
#include "tykhook/store.h"
#include "tykhook/timestamp.h"

namespace tykhook::cli {
namespace {

/// Splits "NAME: VALUE" (white space around the value ignored); nullopt when it has no colon,
/// a name that is not a token, or an empty value.
std::optional<Header> parse_header_option(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  Header header{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
  const auto not_space = header.value.find_first_not_of(" \t");
  if (not_space == std::string::npos) return std::nullopt;
  header.value =
      header.value.substr(not_space, header.value.find_last_not_of(" \t") + 1 - not_space);
  for (const char c : header.name) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f ||
        std::string_view("\"(),/:;<=>?@[\\]{}").find(c) != std::string_view::npos) {
      return std::nullopt;
    }
  }
  return header;
}

/// `text` for a log line: visible ASCII kept, anything else (spaces too, unless `spaces`) as
/// \xHH, at most `limit` bytes; a client cannot forge or break a line.
std::string loggable(std::string_view text, std::size_t limit, bool spaces = false) {
  std::string out;
  for (const char c : text.substr(0, limit)) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte > 0x20 && byte < 0x7f && c != '\\') || (spaces && c == ' ')) {
      out += c;
    } else {
      static constexpr char digits[] = "0123456789abcdef";
      out += "\\x";
      out += digits[byte >> 4];
      out += digits[byte & 0x0f];
    }
  }
  if (text.size() > limit) out += "...";
  return out;
}

std::string milliseconds_text(std::chrono::microseconds duration) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", static_cast<double>(duration.count()) / 1000.0);
  return text;
}

// The time of a log line in UTC with milliseconds, at a fixed width so that lines align.
std::string time_text(TimePoint time) { return format_rfc3339(time, 3); }

/// After the first line: the capture files that an interrupted run left unfinished and that
/// the receiver recovered or removed when it started, when there were any.
void report_recovery(const CaptureRecovery& found, const ListenOptions& options) {
  if (found.recovered + found.removed == 0) return;
  if (options.log_format == "json") {
    const nlohmann::ordered_json line = {
        {"time", time_text(std::chrono::time_point_cast<std::chrono::nanoseconds>(Clock::now()))},
        {"capture_dir", options.capture_dir},
        {"recovered_captures", found.recovered},
        {"removed_captures", found.removed}};
    std::cerr << line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
              << std::endl;
    return;
  }
  std::cerr << "tykhook listen: " << loggable(options.capture_dir, 1000, true)
            << ": capture files left unfinished by an interrupted run: " << found.recovered
            << " whole, now named as captures (never answered: the portal will not send them "
               "again), "
            << found.removed << " incomplete, removed" << std::endl;
}

/// One log line per request on standard error (DESIGN.md, "CLI contract"); lines of different
/// threads never interleave. Lines are gathered and written together, one write() for all the
/// lines of up to `batch_delay`: under load one write() per request was about 4 % of the
/// receiver's CPU (bench/README.md). Everything gathered is written on destruction and flush().
class RequestLog {
 public:
  RequestLog(bool json, bool quiet) : json_(json), quiet_(quiet), flusher_([this] { run(); }) {}
  RequestLog(const RequestLog&) = delete;
  RequestLog& operator=(const RequestLog&) = delete;

  ~RequestLog() {
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    flusher_.join();
    flush();
  }

  void write(const RequestRecord& record) {
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

  /// Writes every line gathered so far, in order.
  void flush() {
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

 private:
  // Long enough to gather the lines of many requests under load, short enough that a person
  // watching the terminal sees each line at once.
  static constexpr auto batch_delay = std::chrono::milliseconds(20);
  static constexpr std::size_t max_pending = 256 * 1024;

  // The flusher: sleeps until a line is gathered, waits `batch_delay` for more, writes them.
  void run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      wake_.wait_for(lock, batch_delay, [this] { return stopping_; });
      lock.unlock();
      flush();
      lock.lock();
    }
  }

  static void text_line(const RequestRecord& record, std::string& line) {
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
    if (!record.error.empty()) {
      line += " error: ";
      line += loggable(record.error, 1000, true);
    }
    line += '\n';
  }

  static void json_line(const RequestRecord& record, std::string& line) {
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
    if (!record.error.empty()) object["error"] = record.error;
    line += object.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    line += '\n';
  }

  bool json_;
  bool quiet_;
  std::mutex mutex_;        // guards pending_ and stopping_
  std::mutex write_mutex_;  // keeps the batches in order
  std::condition_variable wake_;
  std::string pending_;
  bool stopping_ = false;
  std::thread flusher_;  // last: it starts once the members above are ready
};

}  // namespace

CLI::App* add_listen(CLI::App& app, ListenOptions& options) {
  CLI::App* command = app.add_subcommand(
      "listen", "Receive deliveries over HTTP: verify, keep and answer each one");
  command->add_option("--host", options.host, "Address to listen on, e.g. 0.0.0.0 for all")
      ->type_name("HOST")
      ->capture_default_str();
  command->add_option("--port", options.port, "Port to listen on; 0 picks a free one")
      ->type_name("PORT")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  add_secret_options(*command, options.secrets);
  command
      ->add_option("--tolerance", options.tolerance,
                   "Refuse a Timestamp further than this from now (stale: 401), e.g. 300s, 1h")
      ->type_name("DURATION")
      ->check(duration_check())
      ->capture_default_str();
  command
      ->add_option("--store", options.store,
                   "Idempotency store: memory:, sqlite:PATH or redis://HOST:PORT[/DB]")
      ->type_name("URI")
      ->capture_default_str();
  command
      ->add_option("--capture-dir", options.capture_dir,
                   "Write each authentic delivery here (mode 0600) before answering it")
      ->type_name("DIR");
  command->add_flag("--reject-invalid", options.reject_invalid,
                    "Answer authentic deliveries that fail the envelope, event or schema checks "
                    "with 400 instead of 202 (they are kept either way)");
  command
      ->add_option("--max-body", options.max_body,
                   "Largest body accepted, in bytes; larger: 413 (default: 1048576 = 1 MiB)")
      ->type_name("BYTES")
      ->check(CLI::PositiveNumber);
  command
      ->add_option("--require-header", options.require_header,
                   "Refuse deliveries (401, verdict \"rejected\") without this header, e.g. "
                   "\"X-Portal-Token: s3cr3t\"; HEAD is exempt")
      ->type_name("\"NAME: VALUE\"")
      ->check(CLI::Validator(
          [](const std::string& text) {
            return parse_header_option(text)
                       ? std::string()
                       : std::string("expected \"NAME: VALUE\", e.g. \"X-Portal-Token: s3cr3t\"");
          },
          ""));
  command->add_flag("--quiet", options.quiet,
                    "Log only the first line and requests the receiver failed (5xx)");
  command->add_option("--log-format", options.log_format, "Request log lines: text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  command->add_option("--threads", options.threads, "Requests served at once (worker threads)")
      ->type_name("N")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  add_body_check_options(*command, options.checks);
  return command;
}

int run_listen(const ListenOptions& options) {
  auto loaded = load_secrets(options.secrets);
  for (const auto& error : loaded.errors) std::cerr << "tykhook listen: " << error << '\n';
  // A receiver that starts with fewer secrets than configured would refuse real deliveries.
  if (loaded.secrets.empty() || !loaded.errors.empty()) return exit_usage;

  ReceiverOptions receiver_options;
  VerifierOptions& verifier = receiver_options.verifier;
  verifier.secrets = std::move(loaded.secrets);
  verifier.tolerance = *parse_duration(options.tolerance);
  verifier.max_body = options.max_body;
  apply_body_check_options(options.checks, verifier);
  try {
    verifier.store = open_store(options.store);
  } catch (const Error& error) {
    std::cerr << "tykhook listen: --store: " << error.what() << '\n';
    return exit_usage;
  }
  receiver_options.capture_dir = options.capture_dir;
  receiver_options.reject_invalid = options.reject_invalid;
  if (!options.require_header.empty()) {
    receiver_options.required_header = parse_header_option(options.require_header);
  }
  receiver_options.threads = options.threads;

  // SIGINT and SIGTERM are taken by one thread with sigwait, so that stopping runs outside a
  // signal handler; every thread started from here on inherits the blocked mask.
  // A shell starts background jobs with SIGINT ignored, and an ignored signal is discarded
  // even while blocked: restore the default so that `kill -INT` stops a background listen too.
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  // A log reader that goes away (`listen 2>&1 | head`) must not take deliveries down with it.
  signal(SIGPIPE, SIG_IGN);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // After the mask: the log's own thread must not take SIGTERM either.
  RequestLog log(options.log_format == "json", options.quiet);
  receiver_options.on_request = [&log](const RequestRecord& record) { log.write(record); };

  Receiver receiver(std::move(receiver_options));
  const int port = receiver.bind(options.host, options.port);
  const std::string host =
      options.host.find(':') == std::string::npos ? options.host : "[" + options.host + "]";
  std::cerr << "tykhook listening on http://" << host << ":" << port << std::endl;
  report_recovery(receiver.capture_recovery(), options);

  std::atomic<bool> served{false};
  std::thread signal_waiter([&] {
    for (bool stopping = false;;) {
      int signal = 0;
      if (sigwait(&signals, &signal) != 0 || served.load()) return;
      if (!stopping) {
        stopping = true;
        receiver.stop();
        continue;
      }
      // A second signal: the requests in flight are abandoned (a stuck handler); the lines of
      // those that finished are written first.
      log.flush();
      std::cerr << "tykhook listen: second signal; exiting without finishing the requests in "
                   "flight"
                << std::endl;
      std::_Exit(exit_rejected);
    }
  });
  const auto release_waiter = [&] {
    served = true;
    pthread_kill(signal_waiter.native_handle(), SIGTERM);
    signal_waiter.join();
  };
  try {
    receiver.serve();
  } catch (...) {
    release_waiter();
    throw;
  }
  release_waiter();
  // The receiver, and with it the store, is closed on the way out.
  return exit_ok;
}

}  // namespace tykhook::cli
