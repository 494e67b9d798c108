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
