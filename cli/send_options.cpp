#include "commands.h"

namespace tykhook::cli {

CLI::App* add_send(CLI::App& app, SendOptions& options) {
  CLI::App* command = app.add_subcommand(
      "send", "Play the portal: send a signed delivery to a receiver and print its answer");
  command->add_option("--to", options.to, "Receiver URL, e.g. http://127.0.0.1:8080/webhooks")
      ->type_name("URL")
      ->required();
  auto* event = command
                    ->add_option("--event", options.event,
                                 "Send this event's sample body with a fresh Timestamp, e.g. "
                                 "UserRegistered")
                    ->type_name("EVENT")
                    ->check(event_check());
  auto* body =
      command
          ->add_option("--body", options.body, "Send this body file as it is (- is standard input)")
          ->type_name("FILE");
  auto* all = command->add_flag("--all", options.all,
                                "Send every event's sample once (RegisterInvite has none)");
  event->excludes(body)->excludes(all);
  body->excludes(all);
  add_secret_options(*command, options.secrets);
  command->add_option("--method", options.method, "HTTP method of the delivery")
      ->type_name("METHOD")
      ->capture_default_str();
  add_request_options(*command, options.headers, options.timeout);
  return command;
}

}  // namespace tykhook::cli
