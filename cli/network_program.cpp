#include "network_program.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "tykhook/error.h"

namespace tykhook::cli {

void run_network_program(char** argv) {
  // Found from where this program is, whatever the current directory and PATH.
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) {
    throw Error("cannot find this program's directory (/proc/self/exe: " + error.message() +
                "); is /proc mounted?");
  }
  const std::filesystem::path directory = self.parent_path();
  // The build tree has it next to this program; an install (make install, the Debian package)
  // under libexec, TYKHOOK_NETWORK_DIR from the program's directory.
  const std::filesystem::path installed = directory / TYKHOOK_NETWORK_DIR / TYKHOOK_NETWORK_PROGRAM;
  ::execv((directory / TYKHOOK_NETWORK_PROGRAM).c_str(), argv);
  ::execv(installed.c_str(), argv);
  throw Error("cannot start " + installed.lexically_normal().string() + ": " +
              std::strerror(errno) + "; reinstall tykhook");
}

}  // namespace tykhook::cli
