#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>
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

/// The secrets that could be loaded, where each came from, and one message per source that
/// could not be loaded.
struct LoadedSecrets {
  std::vector<Secret> secrets;
  /// Where each secret came from, by index: "--secret-file PATH", "--secret-file NAME (from
  /// $CREDENTIALS_DIRECTORY)", "--secret" (or "--secret #N" of several) or "--secret-env NAME";
  /// never the value.
  std::vector<std::string> sources;
  std::vector<std::string> errors;
  /// Secrets that load but look wrong (white space around, short, a placeholder): for standard
  /// error, never an error.
  std::vector<std::string> warnings;
};

/// Adds --secret-file, --secret and --secret-env to `command`.
void add_secret_options(CLI::App& command, SecretOptions& options);

/// Loads the secrets in DESIGN.md's order. A file's bytes lose one trailing "\n" or "\r\n".
/// A --secret-file NAME without a '/' that names no file is read from $CREDENTIALS_DIRECTORY
/// (systemd credentials) when that variable is set. Empty secrets, unreadable files and an
/// unset variable become errors; suspect secrets become warnings (never the secret).
[[nodiscard]] LoadedSecrets load_secrets(const SecretOptions& options);

/// The warnings for a secret from `where` (see LoadedSecrets::warnings), none for a good one:
/// leading or trailing white space, under 16 bytes, or a placeholder (changeme, secret, ...).
[[nodiscard]] std::vector<std::string> secret_warnings(std::string_view secret,
                                                       const std::string& where);

/// Reads a whole file ("-" is standard input) as bytes; throws tykhook::Error naming the path.
[[nodiscard]] std::string read_input(const std::string& path);

}  // namespace tykhook::cli
