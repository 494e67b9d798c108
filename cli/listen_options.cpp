#include "body_limit.h"
#include "commands.h"
#include "header_option.h"

namespace tykhook::cli {

CLI::App* add_listen(CLI::App& app, ListenOptions& options) {
  CLI::App* command = app.add_subcommand(
      "listen", "Receive deliveries over HTTP: verify, keep and answer each one");
  command->add_option("--host", options.host, "Address to listen on, e.g. 0.0.0.0 for all")
      ->type_name("HOST")
      ->capture_default_str();
  command->add_option("--port", options.port, "Port to listen on, 0 to 65535; 0 picks a free one")
      ->type_name("PORT")
      ->check(CLI::Range(0, 65535).description(""))
      ->capture_default_str();
  add_secret_options(*command, options.secrets);
  command
      ->add_option("--tolerance", options.tolerance,
                   "Refuse a Timestamp further than this from now (stale: 401), e.g. 300s, 1h; "
                   "off turns the check off")
      ->type_name("DURATION")
      ->check(tolerance_check())
      ->capture_default_str();
  add_max_future_option(*command, options.max_future, "the clock");
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
  add_body_limit_option(*command, options.max_body, "; larger: 413");
  command
      ->add_option("--require-header", options.require_header,
                   "Refuse deliveries (401, verdict \"rejected\") without this header, e.g. "
                   "\"X-Portal-Token: s3cr3t\"; HEAD and GET are exempt")
      ->type_name("\"NAME: VALUE\"")
      ->check(CLI::Validator(
          [](const std::string& text) {
            return parse_header_option(text) ? std::string() : header_option_error(text);
          },
          ""));
  command->add_flag("--quiet", options.quiet,
                    "Log only the start-up lines and requests the receiver failed (5xx)");
  command->add_option("--log-format", options.log_format, "Request log lines: text or json")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"text", "json"}).description(""))
      ->capture_default_str();
  command
      ->add_option("--threads", options.threads,
                   "Requests served at once (worker threads), 1 to 1024")
      ->type_name("N")
      ->check(CLI::Range(1, 1024).description(""))
      ->capture_default_str();
  add_body_check_options(*command, options.checks);
  add_delivery_options(*command, options.delivery);
  CLI::Option* ui =
      command->add_flag("--ui", options.ui,
                        "Serve the inspector page at /ui/: the deliveries as they arrive; its "
                        "address, with a new token, is on the first lines");
  command
      ->add_option("--ui-token-file", options.ui_token_file,
                   "Read the inspector's token from this file instead of making one (16 or more "
                   "letters, digits, '-', '_', '.' or '~')")
      ->type_name("PATH")
      ->needs(ui);
  command
      ->add_option("--ui-keep", options.ui_keep,
                   "Recent deliveries the inspector keeps in memory, 1 to 100000")
      ->type_name("N")
      ->check(CLI::Range(1, 100000).description(""))
      ->capture_default_str()
      ->needs(ui);
  return command;
}

}  // namespace tykhook::cli
