#include <chrono>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "header_option.h"
#include "request_log.h"
#include "signals.h"
#include "tykhook/receiver.h"
#include "tykhook/schema.h"
#include "tykhook/store.h"
#include "tykhook/timestamp.h"

namespace tykhook::cli {
namespace {

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

}  // namespace

int run_listen(const ListenOptions& options) {
  auto loaded = load_secrets(options.secrets);
  for (const auto& error : loaded.errors) std::cerr << "tykhook listen: " << error << '\n';
  // A receiver that starts with fewer secrets than configured would refuse real deliveries.
  if (loaded.secrets.empty() || !loaded.errors.empty()) return exit_usage;

  ReceiverOptions receiver_options;
  VerifierOptions& verifier = receiver_options.verifier;
  verifier.secrets = std::move(loaded.secrets);
  if (const auto tolerance = tolerance_of(options.tolerance)) verifier.tolerance = *tolerance;
  verifier.max_body = options.max_body;
  const auto schemas_note = apply_body_check_options(options.checks, verifier);
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

  // Before any thread starts, so that every thread inherits the blocked mask.
  const sigset_t signals = block_stop_signals();

  // After the mask: the log's own thread must not take SIGTERM either.
  RequestLog log(options.log_format == "json", options.quiet);
  receiver_options.on_request = [&log](const RequestRecord& record) { log.write(record); };

  Receiver receiver(std::move(receiver_options));
  const int port = receiver.bind(options.host, options.port);
  const std::string host =
      options.host.find(':') == std::string::npos ? options.host : "[" + options.host + "]";
  std::cerr << "tykhook listening on http://" << host << ":" << port << std::endl;
  report_recovery(receiver.capture_recovery(), options);
  if (schemas_note && options.log_format == "json") {
    const nlohmann::ordered_json line = {
        {"time", time_text(std::chrono::time_point_cast<std::chrono::nanoseconds>(Clock::now()))},
        {"note", *schemas_note}};
    std::cerr << line.dump() << std::endl;
  } else if (schemas_note) {
    std::cerr << "tykhook listen: " << *schemas_note << std::endl;
  }

  const StopSignals stop_signals(
      signals, [&receiver] { receiver.stop(); },
      [&log] {
        // A second signal: the requests in flight are abandoned (a stuck handler); the lines
        // of those that finished are written first.
        log.flush();
        std::cerr << "tykhook listen: second signal; exiting without finishing the requests in "
                     "flight"
                  << std::endl;
        std::_Exit(exit_rejected);
      });
  receiver.serve();
  // The receiver, and with it the store, is closed on the way out.
  return exit_ok;
}

}  // namespace tykhook::cli
