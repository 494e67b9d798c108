#include <unistd.h>

#include <iostream>

#include "commands.h"
#include "output.h"
#include "tykhook/capture.h"
#include "url.h"

namespace tykhook::cli {

CLI::App* add_sign(CLI::App& app, SignOptions& options) {
  CLI::App* command =
      app.add_subcommand("sign", "Sign a body as the portal does (HMAC-SHA256 of its exact bytes)");
  command->add_option("body", options.body, "Body file; - or none reads standard input")
      ->type_name("BODY");
  add_secret_options(*command, options.secrets);
  command->add_flag("--hex", options.hex, "Print the hex signature alone");
  command
      ->add_option("--request", options.request_url,
                   "Print a complete raw HTTP/1.1 capture addressed to URL, e.g. "
                   "http://127.0.0.1:8080/webhooks; the body ends it byte for byte (a newline "
                   "follows only at a terminal, when the body lacks one)")
      ->type_name("URL")
      ->check([](const std::string& text) {
        const auto url = parse_url(text);
        return url ? std::string() : url.error;
      });
  command->get_option("--hex")->excludes(command->get_option("--request"));
  return command;
}

int run_sign(const SignOptions& options) {
  auto loaded = load_secrets(options.secrets);
  for (const auto& warning : loaded.warnings) {
    std::cerr << "tykhook sign: warning: " << warning << '\n';
  }
  for (const auto& error : loaded.errors) std::cerr << "tykhook sign: " << error << '\n';
  if (!loaded.errors.empty() || loaded.secrets.empty()) return exit_usage;
  if (loaded.secrets.size() > 1) {
    std::cerr << "tykhook sign: signing with the first of " << loaded.secrets.size()
              << " secrets\n";
  }
  if (options.body == "-" && ::isatty(STDIN_FILENO) == 1) {
    std::cerr << "tykhook sign: reading the body from standard input (the terminal); end it with "
                 "Ctrl-D, or give a BODY file\n";
  }
  const std::string body = read_input(options.body);
  if (body.empty()) {
    std::cerr << "tykhook sign: the body is empty ("
              << (options.body == "-" ? "standard input" : options.body)
              << "); signing the empty body\n";
  }
  const std::string hex = sign(loaded.secrets.front().bytes(), body);
  if (options.hex) {
    std::cout << hex << '\n';
  } else if (!options.request_url.empty()) {
    const Url url = *parse_url(options.request_url);
    Request request{.method = "POST",
                    .target = url.target,
                    .headers = {{"Host", url.authority()},
                                {"Content-Type", "application/json"},
                                {std::string(signature_header), hex}},
                    .body = body};
    // The capture ends with the body as it was signed; at a terminal only, a newline follows
    // for the prompt (after the Content-Length bytes, where a reader ignores it).
    if (!print_exact(write_raw_capture(request))) return exit_usage;
  } else {
    std::cout << signature_header << ": " << hex << '\n';
  }
  std::cout.flush();
  return std::cout ? exit_ok : exit_usage;
}

}  // namespace tykhook::cli
