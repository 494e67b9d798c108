#include "commands.h"

namespace tykhook::cli {

CLI::App* add_probe(CLI::App& app, ProbeOptions& options) {
  CLI::App* command = app.add_subcommand(
      "probe",
      "Check an endpoint as the portal will use it: Test Connection, a signed delivery, its "
      "certificate");
  command->add_option("url", options.url, "The webhook's target URL, e.g. https://example.com/hook")
      ->type_name("URL")
      ->required();
  add_secret_options(*command, options.secrets);
  command->add_option("--event", options.event, "Deliver this event's sample, e.g. PasswordReset")
      ->type_name("EVENT")
      ->check(event_check())
      ->capture_default_str();
  command->add_option("--method", options.method, "The webhook's HTTP method")
      ->type_name("METHOD")
      ->capture_default_str();
  add_request_options(*command, options.headers, options.timeout,
                      "One of the webhook's custom headers (repeatable), e.g. \"X-Portal-Token: "
                      "s3cr3t\"; the Test Connection HEAD goes without them",
                      "The webhook's timeout in the portal: each answer must come within it, e.g. "
                      "10s, 500ms");
  command
      ->add_option("--cacert", options.ca_file,
                   "Trust the CA certificates of this PEM file for https instead of the system's")
      ->type_name("FILE");
  command->add_option("--format", options.format, "Output: one line per check (text) or JSON")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"text", "json"}).description(""))
      ->capture_default_str();
  return command;
}

}  // namespace tykhook::cli
