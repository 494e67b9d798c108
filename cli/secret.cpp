// `tykhook secret fingerprint`: the fingerprint of each configured secret, so that two systems
// can tell whether they hold the same secret without showing it (issue #18, "Secrets and
// rotation").
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "tykhook/signature.h"

namespace tykhook::cli {

CLI::App* add_secret(CLI::App& app, SecretCommandOptions& options) {
  CLI::App* command = app.add_subcommand("secret", "Look at the configured secrets: fingerprint");
  command->require_subcommand(1);
  CLI::App* fingerprint = command->add_subcommand(
      "fingerprint", "Print each secret's index, fingerprint and source, never the secret itself");
  fingerprint->footer(
      "A fingerprint is the first 12 hex digits of the HMAC-SHA256 of \"tykhook secret "
      "fingerprint\" keyed with the secret: the same secret gives the same fingerprint on every "
      "host, and verify, listen's log and /metrics name the secret that matched by it.");
  add_secret_options(*fingerprint, options.secrets);
  fingerprint
      ->add_option("--format", options.format,
                   "Output: one line per secret (text) or one JSON object per line")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"text", "json"}).description(""))
      ->capture_default_str();
  return command;
}

int run_secret(const SecretCommandOptions& options) {
  const LoadedSecrets loaded = load_secrets(options.secrets);
  for (const auto& warning : loaded.warnings) {
    std::cerr << "tykhook secret: warning: " << warning << '\n';
  }
  for (const auto& error : loaded.errors) std::cerr << "tykhook secret: " << error << '\n';
  // The secrets that loaded are shown even when another one failed: the failure is reported
  // and the exit status says so.
  for (std::size_t i = 0; i < loaded.secrets.size(); ++i) {
    const std::string print = fingerprint(loaded.secrets[i]);
    if (options.format == "json") {
      const nlohmann::ordered_json line = {
          {"index", i}, {"fingerprint", print}, {"source", loaded.sources[i]}};
      std::cout << line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
                << '\n';
    } else {
      std::cout << i << ' ' << print << ' ' << loaded.sources[i] << '\n';
    }
  }
  std::cout.flush();
  return loaded.errors.empty() && !loaded.secrets.empty() ? exit_ok : exit_usage;
}

}  // namespace tykhook::cli
