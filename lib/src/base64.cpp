#include "base64.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstddef>

#include "json_error_text.h"

namespace tykhook::detail {
namespace {

// EVP_EncodeBlock and EVP_DecodeBlock take an int length: longer input goes in pieces of
// whole groups (3 bytes, 4 characters).
constexpr std::size_t piece_groups = std::size_t{1} << 20;

bool in_alphabet(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

const unsigned char* bytes_of(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

/// Decodes whole groups of characters checked by decode_base64, 3 bytes for each (a padding
/// character counts as a zero byte); false if OpenSSL refuses them.
bool decode_groups(std::string_view text, std::string& out) {
  out.resize(text.size() / 4 * 3);
  auto* to = reinterpret_cast<unsigned char*>(out.data());
  for (std::size_t at = 0; at < text.size(); at += 4 * piece_groups) {
    const std::string_view piece = text.substr(at, 4 * piece_groups);
    const int written = EVP_DecodeBlock(to, bytes_of(piece), static_cast<int>(piece.size()));
    if (written < 0) return false;
    to += written;
  }
  return true;
}

}  // namespace

std::string encode_base64(std::string_view bytes) {
  // EVP_EncodeBlock ends its output with a NUL, which the string's own terminator takes.
  std::string out((bytes.size() + 2) / 3 * 4, '\0');
  auto* to = reinterpret_cast<unsigned char*>(out.data());
  for (std::size_t at = 0; at < bytes.size(); at += 3 * piece_groups) {
    const std::string_view piece = bytes.substr(at, 3 * piece_groups);
    to += EVP_EncodeBlock(to, bytes_of(piece), static_cast<int>(piece.size()));
  }
  return out;
}

Parsed<std::string> decode_base64(std::string_view text) {
  using Result = Parsed<std::string>;
  if (text.size() % 4 != 0) {
    return Result::failure("has " + std::to_string(text.size()) +
                           " characters, not a multiple of 4; use standard base64 with = padding");
  }
  // EVP_DecodeBlock is lenient: it skips white space at the ends and reads "=" anywhere as a
  // zero. So every character before the padding (one or two "=" at the end) must be in the
  // alphabet, and the padding bytes it decodes are dropped.
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  const std::string_view data = text.substr(0, text.size() - padding);
  if (const auto bad = std::find_if_not(data.begin(), data.end(), in_alphabet); bad != data.end()) {
    const auto at = static_cast<std::size_t>(bad - data.begin());
    return Result::failure("character " + std::to_string(at + 1) + " " +
                           quote_bytes(text.substr(at, 1), 1) +
                           " is not base64; use the standard alphabet A-Z a-z 0-9 + / "
                           "with = padding at the end only");
  }
  std::string out;
  if (!decode_groups(text, out)) {
    return Result::failure("cannot be decoded by the crypto library; use standard base64");
  }
  out.resize(out.size() - padding);
  // The unused bits of a padded last group must be zero: then encoding its bytes again gives
  // the group back.
  if (padding > 0) {
    const std::string_view group = text.substr(text.size() - 4);
    if (encode_base64(std::string_view(out).substr(out.size() - (3 - padding))) != group) {
      return Result::failure("the last group " + quote_bytes(group, 4) +
                             " has non-zero padding bits; re-encode the bytes with a standard "
                             "base64 encoder");
    }
  }
  return {std::move(out), {}};
}

}  // namespace tykhook::detail
