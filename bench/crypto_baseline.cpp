// The floor that `tykhook verify` of one capture is measured against (bench/README.md,
// "Start-up of the CLI"): a C++ program that links libcrypto and does the least that a
// verification does, reading a file and printing the HMAC-SHA256 of its bytes.
//   crypto_baseline FILE SECRET
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: crypto_baseline FILE SECRET\n";
    return 2;
  }
  std::ifstream file(argv[1], std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  const std::string secret = argv[2];
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest,
           &length) == nullptr) {
    return 2;
  }
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += digits[digest[i] >> 4];
    hex += digits[digest[i] & 0x0f];
  }
  std::cout << hex << '\n';
  return 0;
}
