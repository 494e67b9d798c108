#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "header_option.h"
#include "inspector_token.h"
#include "listen_startup.h"
#include "request_log.h"
#include "signals.h"
#include "tykhook/receiver.h"
#include "tykhook/store.h"

namespace tykhook::cli {
namespace {

// SIGHUP: the secrets again, from the same options (their files may have changed). A reload
// that fails keeps the secrets in force, so that a file caught half-written or removed too early
// never locks the portal out; neither outcome's line shows a secret.
void reload_secrets(const SecretOptions& options, Receiver& receiver, const StartupLines& lines) {
  LoadedSecrets loaded = load_secrets(options);
  for (const auto& warning : loaded.warnings) lines.warning(warning);
  if (loaded.secrets.empty() || !loaded.errors.empty()) {
    std::string why;
    for (const auto& error : loaded.errors) why += (why.empty() ? "" : "; ") + error;
    if (why.empty()) why = "no secret";
    lines.say({{"error", "tykhook listen: secrets not reloaded, the ones in force stay: " + why},
               {"secrets_reloaded", false}},
              "secrets not reloaded, the ones in force stay: " + why);
    return;
  }
  std::vector<std::string> fingerprints;
  std::string listed;
  for (std::size_t i = 0; i < loaded.secrets.size(); ++i) {
    fingerprints.push_back(fingerprint(loaded.secrets[i]));
    listed += (i == 0 ? "" : ", ") + std::string("#") + std::to_string(i) + " " +
              fingerprints.back() + " (" + loaded.sources[i] + ")";
  }
  const std::size_t count = loaded.secrets.size();
  receiver.replace_secrets(std::move(loaded.secrets));
  lines.say({{"secrets_reloaded", count}, {"fingerprints", fingerprints}},
            "secrets reloaded: " + std::to_string(count) + ": " + listed);
}

}  // namespace

int run_listen(const ListenOptions& options) {
  const StartupLines lines(options.log_format == "json");
  auto loaded = load_secrets(options.secrets);
  for (const auto& error : loaded.errors) lines.error(error);
  // A receiver that starts with fewer secrets than configured would refuse real deliveries.
  if (loaded.secrets.empty() || !loaded.errors.empty()) return exit_usage;
  const std::size_t secrets = loaded.secrets.size();

  ReceiverOptions receiver_options;
  VerifierOptions& verifier = receiver_options.verifier;
  verifier.secrets = std::move(loaded.secrets);
  if (const auto tolerance = tolerance_of(options.tolerance)) verifier.tolerance = *tolerance;
  if (const auto max_future = tolerance_of(options.max_future)) verifier.max_future = *max_future;
  verifier.max_body = options.max_body;
  const FilesBefore before = look_before(options);
  std::optional<std::string> schemas_note;
  try {
    schemas_note = apply_body_check_options(options.checks, verifier);
  } catch (const Error& error) {
    lines.error(error.what());
    return exit_usage;
  }
  try {
    verifier.store = open_store(options.store);
  } catch (const Error& error) {
    lines.error(std::string("--store: ") + error.what());
    return exit_usage;
  }
  receiver_options.capture_dir = options.capture_dir;
  receiver_options.reject_invalid = options.reject_invalid;
  if (!options.require_header.empty()) {
    receiver_options.required_header = parse_header_option(options.require_header);
  }
  receiver_options.threads = options.threads;
  std::string inspector_token;  // printed in the inspector's address
  if (options.ui) {
    InspectorToken token = options.ui_token_file.empty()
                               ? generate_inspector_token()
                               : read_inspector_token(options.ui_token_file);
    for (const auto& error : token.errors) lines.error(error);
    if (!token.errors.empty()) return exit_usage;
    inspector_token = token.token;
    receiver_options.inspector = {
        .enabled = true, .token = std::move(token.token), .keep = options.ui_keep};
  }
  const auto store_ttl = verifier.store_ttl;
  std::shared_ptr<Target> target;
  if (options.delivery.has_target()) {
    try {
      target = make_target(options.delivery, {options.secrets.env});
    } catch (const Error& error) {
      lines.error(error.what());
      return exit_usage;
    }
    receiver_options.delivery = worker_options(options.delivery, target, nullptr);
  }

  // Before any thread starts, so that every thread inherits the blocked mask.
  const sigset_t signals = block_stop_signals(/*reload=*/true);

  // After the mask: the log's own thread must not take SIGTERM either.
  RequestLog log(options.log_format == "json", options.quiet);
  receiver_options.on_request = [&log](const RequestRecord& record) { log.write(record); };
  receiver_options.delivery.on_attempt = [&log](const AttemptReport& report) { log.write(report); };
  receiver_options.delivery.on_store_error = [&lines](const std::string& error) {
    lines.error("the queue's store failed (trying again): " + error);
  };

  std::optional<Receiver> receiver;
  int port = 0;
  try {
    receiver.emplace(std::move(receiver_options));
    port = receiver->bind(options.host, options.port);
  } catch (const Error& error) {
    lines.error(error.what());
    return exit_usage;
  }
  const std::string host =
      options.host.find(':') == std::string::npos ? options.host : "[" + options.host + "]";
  const std::string url = "http://" + host + ":" + std::to_string(port);
  lines.listening(url);
  for (const auto& warning : loaded.warnings) lines.warning(warning);
  if (options.ui) describe_inspector(lines, options, url, inspector_token);
  describe_keeping(lines, options, before, secrets, store_ttl, receiver->capture_recovery(),
                   schemas_note, target.get());

  const StopSignals stop_signals(
      signals, [&receiver] { receiver->stop(); },
      [&log, &lines] {
        // A second signal: the requests in flight are abandoned (a stuck handler); the lines
        // of those that finished are written first.
        log.flush();
        lines.error("second signal; exiting without finishing the requests in flight");
        std::_Exit(exit_rejected);
      },
      [&options, &receiver, &lines] { reload_secrets(options.secrets, *receiver, lines); });
  receiver->serve();
  // The receiver, and with it the store, is closed on the way out.
  return exit_ok;
}

}  // namespace tykhook::cli
