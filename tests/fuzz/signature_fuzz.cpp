// Fuzz target: parse_signature_header on any header value. A value that parses must name the
// same digest in every accepted spelling; a value that does not gets a message that never
// repeats it.

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_checks.h"
#include "tykhook/signature.h"

namespace {

using tykhook::fuzz::require;

std::string hex_of(const tykhook::Digest& digest) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  for (const unsigned char byte : digest) {
    hex += digits[byte >> 4];
    hex += digits[byte & 0x0f];
  }
  return hex;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto value = tykhook::fuzz::bytes_of(data, size);
  const auto parsed = tykhook::parse_signature_header(value);
  if (!parsed) {
    tykhook::fuzz::require_message(parsed.error, "parse_signature_header");
    // A run of 16 hex digits or more (a signature, or part of one) is never repeated: the
    // message's own words and byte offsets hold no such run.
    std::size_t begin = 0;
    while (begin < value.size()) {
      std::size_t end = begin;
      while (end < value.size() && std::isxdigit(static_cast<unsigned char>(value[end]))) ++end;
      if (end - begin >= 16) {
        require(parsed.error.find(value.substr(begin, end - begin)) == std::string::npos,
                "an error repeats hex digits of the header value");
      }
      begin = end + 1;
    }
    return 0;
  }
  const std::string hex = hex_of(*parsed);
  for (const std::string& spelling : {hex, "sha256=" + hex, "\t SHA256=" + hex + " \t"}) {
    const auto again = tykhook::parse_signature_header(spelling);
    require(again.ok() && *again == *parsed, "each spelling of a digest parses to it");
  }
  // Exactly 64 hex digits after the optional prefix and blanks: one digit fewer never parses.
  require(!tykhook::parse_signature_header(hex.substr(1)).ok(), "63 hex digits parse");
  return 0;
}
