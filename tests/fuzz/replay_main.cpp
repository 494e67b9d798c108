// Replays inputs through one fuzz target without the fuzzing engine, so that the regression
// inputs under tests/fuzz/regressions/ (and the seeds) run with every build as a CTest.
//
//   fuzz_<target>_replay [--prefix HEX|none] PATH...
//
// Each PATH is a file, or a directory whose files are replayed. `--prefix HEX` puts the byte
// HEX (two hex digits) before each input named after it, for a target whose first byte chooses
// a mode (the verifier's); `--prefix none` stops that.
// A target that finds a problem aborts, which fails the test with the input's name printed
// just before. A PATH that does not exist is skipped with a note: a target may have no
// regression inputs yet.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_checks.h"

namespace {

std::vector<std::filesystem::path> inputs_under(const std::filesystem::path& path) {
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_directory(path)) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(path)) {
      if (entry.is_regular_file()) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
  } else if (std::filesystem::is_regular_file(path)) {
    files.push_back(path);
  }
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t replayed = 0;
  std::string prefix;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--prefix" && i + 1 < argc) {
      const std::string_view hex = argv[++i];
      prefix.clear();
      if (hex != "none") prefix += static_cast<char>(std::stoi(std::string(hex), nullptr, 16));
      continue;
    }
    const std::filesystem::path path = argv[i];
    if (!std::filesystem::exists(path)) {
      std::printf("%s: not there, skipped\n", argv[i]);
      continue;
    }
    for (const auto& file : inputs_under(path)) {
      std::ifstream in(file, std::ios::binary);
      const std::string bytes = prefix + std::string(std::istreambuf_iterator<char>(in),
                                                     std::istreambuf_iterator<char>());
      if (!in && !in.eof()) {
        std::fprintf(stderr, "%s: cannot read\n", file.c_str());
        return 2;
      }
      std::printf("replaying %s (%zu bytes)\n", file.c_str(), bytes.size());
      std::fflush(stdout);
      LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      ++replayed;
    }
  }
  std::printf("replayed %zu inputs\n", replayed);
  return 0;
}
