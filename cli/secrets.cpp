#include "secrets.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

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

// Whether `text` can name an environment variable (POSIX: letters, digits, underscores, not
// starting with a digit), and whether it reads as one as people write them, in capitals. Only
// such a name is shown in a message: anything else might be the secret itself, typed into the
// wrong option.
bool is_variable_name(std::string_view text) {
  constexpr std::string_view letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_";
  return !text.empty() && letters.find(text.front()) != std::string_view::npos &&
         text.find_first_not_of("0123456789" + std::string(letters)) == std::string_view::npos;
}
bool looks_like_variable_name(std::string_view text) {
  return is_variable_name(text) && text.size() <= 64 &&
         text.find_first_of("abcdefghijklmnopqrstuvwxyz") == std::string_view::npos;
}

// Whether a --secret-file argument reads as a path (a directory or an extension in it), so that
// naming it in a message cannot show a secret typed into the wrong option.
bool looks_like_path(std::string_view text) {
  return text == "-" || text.find_first_of("/.") != std::string_view::npos;
}

// The message for a --secret-env value that is not a variable's name, without the value.
std::string not_a_variable_name(std::string_view value) {
  const auto equals = value.find('=');
  if (equals != std::string_view::npos) {
    const std::string_view name = value.substr(0, equals);
    const std::string shown = looks_like_variable_name(name) ? std::string(name) : "NAME";
    return "--secret-env takes a variable's name, not NAME=VALUE (the value is not shown); "
           "export " +
           shown + " in the environment and pass --secret-env " + shown;
  }
  return "--secret-env takes a variable's name in capitals, e.g. PORTAL_WEBHOOKS_SECRET, and "
         "what was given is not one (it is not shown, in case it is the secret itself); pass the "
         "secret with --secret-file PATH instead";
}

}  // namespace

std::string read_input(const std::string& path) {
  // One open, one fstat and reads straight into the string: verify reads many small files, and
  // a stream's buffers and locale cost more than the bytes (bench/README.md, "Per capture").
  const bool standard_input = path == "-";
  const int fd = standard_input ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot read: " + std::strerror(errno) + "; check the path");
  struct Closer {
    int fd;
    bool owned;
    ~Closer() {
      if (owned) ::close(fd);
    }
  } closer{fd, !standard_input};
  std::string bytes;
  struct stat status {};
  std::size_t chunk = 1 << 16;
  if (::fstat(fd, &status) == 0 && S_ISREG(status.st_mode) && status.st_size > 0) {
    // A regular file: its size, and one byte more to see the end in the same read.
    chunk = std::min<std::size_t>(static_cast<std::size_t>(status.st_size), max_input_bytes) + 1;
  }
  while (true) {
    const std::size_t used = bytes.size();
    bytes.resize(used + chunk);
    const ssize_t got = ::read(fd, bytes.data() + used, chunk);
    if (got < 0 && errno == EINTR) {
      bytes.resize(used);
      continue;
    }
    if (got < 0) throw Error(path + ": read failed; check the file");
    bytes.resize(used + static_cast<std::size_t>(got));
    if (bytes.size() > max_input_bytes) {
      throw Error(path + ": over " + std::to_string(max_input_bytes >> 20) +
                  " MiB; split the input into smaller captures");
    }
    if (got == 0) return bytes;
    chunk = 1 << 16;
  }
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
                  "Name of the environment variable holding the secret when no --secret-file "
                  "or --secret is given (default PORTAL_WEBHOOKS_SECRET); a name, not the secret")
      ->type_name("NAME");
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
      loaded.errors.push_back(
          looks_like_path(path)
              ? "--secret-file " + std::string(error.what())
              : "--secret-file: cannot read the file named (the name is not shown, in case it "
                "is the secret itself); give the path of a file that holds the secret, e.g. "
                "./secret.txt");
    }
  }
  for (const auto& value : options.values) add(value, "--secret");
  if (options.files.empty() && options.values.empty()) {
    if (!is_variable_name(options.env)) {
      loaded.errors.push_back(not_a_variable_name(options.env));
      return loaded;
    }
    const std::string where = looks_like_variable_name(options.env)
                                  ? "--secret-env " + options.env
                                  : std::string("--secret-env (the name is not shown)");
    const char* value = std::getenv(options.env.c_str());
    if (value == nullptr) {
      loaded.errors.push_back(where +
                              ": the variable is not set; set it to the portal's secret, or " +
                              "pass --secret-file PATH");
    } else {
      add(value, where);
    }
  }
  return loaded;
}

}  // namespace tykhook::cli
