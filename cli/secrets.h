#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "tykhook/signature.h"

namespace tykhook::cli {

/// Where the secrets come from (DESIGN.md, "CLI contract"): every --secret-file, every
/// --secret, else the environment variable named by --secret-env.
struct SecretOptions {
  std::vector<std::string> files;
  std::vector<std::string> values;
  std::string env = "PORTAL_WEBHOOKS_SECRET";
};

/// The secrets that could be loaded, and one message per source that could not.
struct LoadedSecrets {
  std::vector<Secret> secrets;
  std::vector<std::string> errors;
};

/// Adds --secret-file, --secret and --secret-env to `command`.
void add_secret_options(CLI::App& command, SecretOptions& options);

/// Loads the secrets in DESIGN.md's order. A file's bytes lose one trailing "\n" or "\r\n".
/// Empty secrets, unreadable files and an unset variable become errors (never the secret).
[[nodiscard]] LoadedSecrets load_secrets(const SecretOptions& options);

/// Reads a whole file ("-" is standard input) as bytes; throws tykhook::Error naming the path.
[[nodiscard]] std::string read_input(const std::string& path);

}  // namespace tykhook::cli
