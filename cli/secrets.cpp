#include "secrets.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
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

// Secrets shorter than this are warned about: the portal generates long random ones, and a short
// one can be guessed (its fingerprint, or any signature, lets a guess be tested offline).
constexpr std::size_t min_secret_bytes = 16;

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Whether `secret` looks like a placeholder left in a configuration (README, "Secrets"): a
// word from the short list, all x's, "your-..." or "your_...", "<...>", or an unexpanded
// "${...}". The list is short on purpose: a warning must be right when it shows.
bool looks_like_placeholder(std::string_view secret) {
  const std::string word = lower(secret);
  for (const std::string_view placeholder :
       {"changeme", "change-me", "change_me", "secret", "mysecret", "password"}) {
    if (word == placeholder) return true;
  }
  if (word.size() >= 3 && word.find_first_not_of('x') == std::string::npos) return true;
  if (word.starts_with("your-") || word.starts_with("your_")) return true;
  if (word.size() >= 2 && word.front() == '<' && word.back() == '>') return true;
  return word.starts_with("${");
}

// The file in $CREDENTIALS_DIRECTORY (systemd credentials) that a --secret-file argument
// stands for: a bare name (no '/') that names no file here, when the variable is set.
std::optional<std::string> credential_path(const std::string& name) {
  const char* directory = std::getenv("CREDENTIALS_DIRECTORY");
  if (directory == nullptr || *directory == '\0' || name == "-" || name.empty() ||
      name.find('/') != std::string::npos) {
    return std::nullopt;
  }
  struct stat status {};
  if (::stat(name.c_str(), &status) == 0 || errno != ENOENT) return std::nullopt;
  return std::string(directory) + "/" + name;
}

}  // namespace

std::vector<std::string> secret_warnings(std::string_view secret, const std::string& where) {
  std::vector<std::string> warnings;
  constexpr std::string_view white_space = " \t\r\n\v\f";
  if (!secret.empty() && (white_space.find(secret.front()) != std::string_view::npos ||
                          white_space.find(secret.back()) != std::string_view::npos)) {
    warnings.push_back(where +
                       ": the secret starts or ends with white space (after one trailing newline "
                       "of a file is removed); the portal signs with its secret byte for byte, "
                       "so remove it unless the portal's secret has it too");
  }
  if (secret.size() < min_secret_bytes) {
    warnings.push_back(where + ": the secret is shorter than " + std::to_string(min_secret_bytes) +
                       " bytes and easy to guess; use a long random secret in the portal and here");
  }
  if (looks_like_placeholder(secret)) {
    warnings.push_back(where +
                       ": the secret looks like a placeholder (changeme, secret, xxx, your-..., "
                       "<...>, ${...}); give the portal's Webhooks.Secret");
  }
  return warnings;
}

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
                  "File holding a secret (repeatable); one trailing newline is removed. A "
                  "bare NAME that is no file here is read from $CREDENTIALS_DIRECTORY when set")
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
    for (auto& warning : secret_warnings(bytes, where)) {
      loaded.warnings.push_back(std::move(warning));
    }
    loaded.secrets.emplace_back(std::move(bytes));
    loaded.sources.push_back(where);
  };
  for (const auto& path : options.files) {
    const auto credential = credential_path(path);
    try {
      if (credential) {
        // Found, so `path` is a credential's name, not a secret typed into the wrong option.
        add(strip_one_newline(read_input(*credential)),
            "--secret-file " + path + " ($CREDENTIALS_DIRECTORY)");
      } else {
        add(strip_one_newline(read_input(path)), "--secret-file " + path);
      }
    } catch (const Error& error) {
      if (credential) {
        const std::string directory = credential->substr(0, credential->size() - path.size() - 1);
        loaded.errors.push_back(
            (looks_like_path(path) ? "--secret-file " + path
                                   : std::string("--secret-file (the name is not shown, in case "
                                                 "it is the secret itself)")) +
            ": no such file in the working directory, nor in $CREDENTIALS_DIRECTORY (" + directory +
            "); check the credential's name in the service's LoadCredential=");
        continue;
      }
      loaded.errors.push_back(
          looks_like_path(path)
              ? "--secret-file " + std::string(error.what())
              : "--secret-file: cannot read the file named (the name is not shown, in case it "
                "is the secret itself); give the path of a file that holds the secret, e.g. "
                "./secret.txt");
    }
  }
  for (std::size_t i = 0; i < options.values.size(); ++i) {
    add(options.values[i], options.values.size() == 1 ? std::string("--secret")
                                                      : "--secret #" + std::to_string(i + 1));
  }
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
