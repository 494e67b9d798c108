#include "commands.h"

namespace tykhook::cli {

CLI::App* add_work(CLI::App& app, WorkOptions& options) {
  CLI::App* command = app.add_subcommand(
      "work",
      "Hand queued deliveries on to the application, without receiving (several workers "
      "may share one store)");
  command
      ->add_option("--store", options.store,
                   "The store that holds the queue, as listen was given it: sqlite:PATH (one "
                   "host) or redis://HOST:PORT[/DB][?prefix=P] (several hosts)")
      ->type_name("URI")
      ->required();
  command->add_flag("--quiet", options.quiet, "Log only the attempts that fail");
  command->add_option("--log-format", options.log_format, "Log lines: text or json")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"text", "json"}).description(""))
      ->capture_default_str();
  command
      ->add_option("--secret-env", options.secret_env,
                   "The variable that holds the secret, not passed on to --exec commands")
      ->type_name("NAME")
      ->capture_default_str();
  add_delivery_options(*command, options.delivery);
  return command;
}

}  // namespace tykhook::cli
