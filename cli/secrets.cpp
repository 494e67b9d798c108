#include "secrets.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "tykhook/error.h"

namespace tykhook::cli {
namespace {

// Captures and bodies are read whole; this keeps a wrong path (a disk image, /dev/zero) from
// exhausting memory.
constexpr std::size_t max_input_bytes = 256 * 1024 * 1024;

std::string strip_one_newline(std::string bytes) {
  if (bytes.ends_with("\r\n")) {
    bytes.resize(bytes.size() - 2);
  } else if (bytes.ends_with('\n')) {
    bytes.pop_back();
  }
  return bytes;
}

}  // namespace

std::string read_input(const std::string& path) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) throw Error(path + ": cannot read: " + std::strerror(errno) + "; check the path");
    in = &file;
  }
  std::string bytes;
  char buffer[1 << 16];
  while (*in) {
    in->read(buffer, sizeof buffer);
    bytes.append(buffer, static_cast<std::size_t>(in->gcount()));
    if (bytes.size() > max_input_bytes) {
      throw Error(path + ": over " + std::to_string(max_input_bytes >> 20) +
                  " MiB; split the input into smaller captures");
    }
  }
  if (in->bad()) throw Error(path + ": read failed; check the file");
  return bytes;
}

void add_secret_options(CLI::App& command, SecretOptions& options) {
  command
      .add_option("--secret-file", options.files,
                  "File holding a secret (repeatable); one trailing newline is removed")
      ->type_name("PATH")
      ->allow_extra_args(false);
  command
      .add_option("--secret", options.values,
                  "Secret value (repeatable; visible to other users in the process list, "
                  "prefer --secret-file or --secret-env)")
      ->type_name("VALUE")
      ->allow_extra_args(false);
  command
      .add_option("--secret-env", options.env,
                  "Environment variable holding the secret when no --secret-file or --secret "
                  "is given")
      ->type_name("NAME")
      ->capture_default_str();
}

LoadedSecrets load_secrets(const SecretOptions& options) {
  LoadedSecrets loaded;
  const auto add = [&loaded](std::string bytes, const std::string& where) {
    if (bytes.empty()) {
      loaded.errors.push_back(where + ": empty secret; give the portal's Webhooks.Secret");
      return;
    }
    loaded.secrets.emplace_back(std::move(bytes));
  };
  for (const auto& path : options.files) {
    try {
      add(strip_one_newline(read_input(path)), "--secret-file " + path);
    } catch (const Error& error) {
      loaded.errors.push_back("--secret-file " + std::string(error.what()));
    }
  }
  for (const auto& value : options.values) add(value, "--secret");
  if (options.files.empty() && options.values.empty()) {
    const char* value = options.env.empty() ? nullptr : std::getenv(options.env.c_str());
    if (value == nullptr) {
      loaded.errors.push_back("--secret-env " + options.env +
                              ": the variable is not set; set it to the portal's secret, or " +
                              "pass --secret-file PATH");
    } else {
      add(value, "--secret-env " + options.env);
    }
  }
  return loaded;
}

}  // namespace tykhook::cli
