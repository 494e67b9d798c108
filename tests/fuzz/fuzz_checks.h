#pragma once

// Checks shared by the fuzz targets. A target calls the library on its input and then checks
// properties that must hold for every input; a broken one aborts, which the fuzzing engine and
// the replay program (replay_main.cpp) both report as a failure with the input that caused it.
// Nothing here catches: any exception that escapes the library is a finding too (STYLE.md).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

// The entry point of every target, the one the fuzzing engine calls, so that the same source
// links into a fuzzer or into the replay program.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace tykhook::fuzz {

/// The longest message that any parser or the verifier may produce: messages name the place
/// and quote a few bytes of the input, never the whole of it.
inline constexpr std::size_t max_message_bytes = 1024;

/// Aborts with `what` on standard error when `holds` is false.
inline void require(bool holds, std::string_view what) {
  if (holds) return;
  std::fprintf(stderr, "fuzz check failed: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

/// True when `text` is valid UTF-8 (RFC 3629: shortest form, no surrogates, at most U+10FFFF).
inline bool is_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    unsigned char low = 0x80;   // the range of the second byte, which rules out overlong forms,
    unsigned char high = 0xBF;  // surrogates and code points above U+10FFFF
    if (lead < 0x80) {
      ++i;
      continue;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto byte = static_cast<unsigned char>(text[i + k]);
      if (k == 1 ? byte < low || byte > high : byte < 0x80 || byte > 0xBF) return false;
    }
    i += length;
  }
  return true;
}

/// `text` cut to 200 bytes, bytes outside printable ASCII as \xNN: for a failed check's report.
inline std::string printable(std::string_view text) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (const char c : text.substr(0, 200)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += digits[byte >> 4];
      out += digits[byte & 0x0f];
    }
  }
  return text.size() > 200 ? out + "..." : out;
}

/// A message for people: not empty, one line of valid UTF-8, and short whatever the input.
inline void require_message(std::string_view message, std::string_view from) {
  const std::string where = std::string(from) + " (\"" + printable(message) + "\")";
  require(!message.empty(), where + ": empty message");
  require(message.size() <= max_message_bytes,
          where + ": message of " + std::to_string(message.size()) + " bytes");
  require(is_utf8(message), where + ": message is not valid UTF-8");
  require(message.find('\n') == std::string_view::npos, where + ": message spans lines");
}

/// The input as bytes.
inline std::string_view bytes_of(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace tykhook::fuzz
