#include "inspector_token.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>

namespace tykhook::cli {

namespace {

constexpr std::size_t min_token_size = 16;
constexpr std::size_t max_token_size = 4096;

bool url_safe(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.' ||
         c == '~';
}

}  // namespace

InspectorToken generate_inspector_token() {
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return {{},
            {"--ui: no random bytes for the inspector's token from the crypto "
             "library; give one with --ui-token-file PATH"}};
  }
  std::array<unsigned char, 4 * bytes.size() / 3 + 4> text{};
  const int size = EVP_EncodeBlock(text.data(), bytes.data(), static_cast<int>(bytes.size()));
  std::string token(reinterpret_cast<const char*>(text.data()), static_cast<std::size_t>(size));
  std::replace(token.begin(), token.end(), '+', '-');
  std::replace(token.begin(), token.end(), '/', '_');
  token.erase(std::remove(token.begin(), token.end(), '='), token.end());
  return {std::move(token), {}};
}

InspectorToken read_inspector_token(const std::string& path) {
  const std::string where = "--ui-token-file " + path + ": ";
  std::ifstream file(path, std::ios::binary);
  if (!file) return {{}, {where + "cannot be read; give a file that holds the token"}};
  // Read a little more than the longest token with its line end: a longer file is refused
  // without being read whole.
  std::string token(max_token_size + 3, '\0');
  file.read(token.data(), static_cast<std::streamsize>(token.size()));
  token.resize(static_cast<std::size_t>(file.gcount()));
  if (file.bad()) return {{}, {where + "cannot be read; give a file that holds the token"}};
  if (token.ends_with("\r\n")) {
    token.resize(token.size() - 2);
  } else if (token.ends_with('\n')) {
    token.pop_back();
  }
  if (token.size() < min_token_size || token.size() > max_token_size) {
    return {{},
            {where + "the token must be 16 to 4096 characters; make one with e.g. "
                     "`head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '='`"}};
  }
  if (!std::all_of(token.begin(), token.end(), url_safe)) {
    return {{},
            {where + "the token may hold only letters, digits, '-', '_', '.' and '~' (it "
                     "travels in a URL); make a new one"}};
  }
  return {std::move(token), {}};
}

}  // namespace tykhook::cli
