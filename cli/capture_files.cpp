#include "capture_files.h"

#include <algorithm>
#include <filesystem>

namespace tykhook::cli {

std::vector<std::string> files_of(
    const std::vector<std::string>& inputs,
    const std::function<void(const std::string&, const std::string&)>& unreadable) {
  std::vector<std::string> files;
  for (const std::string& input : inputs) {
    std::error_code error;
    if (input == "-" || !std::filesystem::is_directory(input, error)) {
      files.push_back(input);
      continue;
    }
    std::vector<std::string> found;
    for (std::filesystem::directory_iterator it(input, error), end; !error && it != end;
         it.increment(error)) {
      const std::string name = it->path().filename().string();
      if (!name.starts_with('.') && it->is_regular_file(error))
        found.push_back(it->path().string());
    }
    if (error) {
      unreadable(input, input + ": cannot list the directory: " + error.message() +
                            "; check its permissions");
      continue;
    }
    if (found.empty()) {
      unreadable(input, input +
                            ": a directory without capture files; give capture files, or "
                            "the --capture-dir of listen");
      continue;
    }
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

}  // namespace tykhook::cli
