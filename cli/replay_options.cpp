#include "commands.h"

namespace tykhook::cli {

CLI::App* add_replay(CLI::App& app, ReplayOptions& options) {
  CLI::App* command = app.add_subcommand(
      "replay",
      "Send captured deliveries to a receiver again, byte for byte with their own signature");
  command
      ->add_option("captures", options.captures,
                   "Capture files (raw HTTP, tykhook JSON capture, HAR, queue export), or "
                   "directories of them (e.g. listen's --capture-dir); - is standard input")
      ->type_name("CAPTURE")
      ->required();
  command->add_option("--to", options.to, "Receiver URL, e.g. http://127.0.0.1:8080/webhooks")
      ->type_name("URL")
      ->required();
  command->add_flag("--resign", options.resign,
                    "Sign each body with the configured secret instead of sending its own "
                    "signature");
  command->add_flag("--fresh-timestamp", options.fresh_timestamp,
                    "Set each body's Timestamp to now, and sign it with the configured secret");
  add_secret_options(*command, options.secrets);
  add_request_options(*command, options.headers, options.timeout);
  command->add_option("--format", options.format, "Output: one line per capture (text) or JSON")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"text", "json"}).description(""))
      ->capture_default_str();
  return command;
}

}  // namespace tykhook::cli
