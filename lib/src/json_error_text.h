#pragma once

#include <algorithm>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "hex.h"
#include "json_rules.h"

namespace tykhook::detail {

/// Appends `byte` to `out` as \xNN, for a byte that a message must not hold raw.
inline void append_byte_escape(std::string& out, unsigned char byte) {
  out += "\\x";
  out += hex_digits[byte >> 4];
  out += hex_digits[byte & 0x0f];
}

/// `text` for a message, in double quotes: at most `shown` bytes of it (then "..."), and each
/// byte outside printable ASCII, each quote and each backslash as \xNN, so that a message stays
/// one readable line whatever the input holds.
inline std::string quote_bytes(std::string_view text, std::size_t shown) {
  std::string out = "\"";
  for (const char c : text.substr(0, shown)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f || c == '"' || c == '\\') {
      append_byte_escape(out, byte);
    } else {
      out += c;
    }
  }
  if (text.size() > shown) out += "...";
  out += '"';
  return out;
}

/// The what() of a JSON parser exception without its "[json.exception.parse_error.101] " tag,
/// which names nlohmann's code, not the input.
inline std::string_view without_json_tag(std::string_view what) {
  if (what.starts_with("[json.exception.")) {
    if (const auto end = what.find("] "); end != std::string_view::npos)
      what.remove_prefix(end + 2);
  }
  return what;
}

/// Turns the what() of a JSON parser exception into text fit for a message: without the
/// "[json.exception.parse_error.101] " tag, with the input it quotes ("last read: '...'",
/// "number overflow parsing '...'") cut to 40 bytes, and every byte outside printable ASCII
/// written as \xNN. Those quotes hold raw input: a 1 MiB string or number would otherwise be
/// copied whole into the message, and invalid UTF-8 would make it unprintable as JSON.
inline std::string json_error_text(std::string_view what) {
  what = without_json_tag(what);
  // The quoted input runs from the first quote to the one before "; expected ..." (whose
  // token names may hold quotes of their own, as in "'['"), or else to the last quote.
  std::string_view before = what;
  std::string_view quoted;
  std::string_view after;
  if (const auto open = what.find('\''); open != std::string_view::npos) {
    auto close = what.rfind("'; expected ");
    if (close == std::string_view::npos || close <= open) close = what.rfind('\'');
    if (close > open) {
      before = what.substr(0, open + 1);
      quoted = what.substr(open + 1, close - open - 1);
      after = what.substr(close);
    }
  }
  constexpr std::size_t shown = 40;
  const auto escape = [](std::string_view text, std::string& out) {
    for (const char c : text) {
      const auto byte = static_cast<unsigned char>(c);
      if (byte >= 0x20 && byte < 0x7f) {
        out += c;
      } else {
        append_byte_escape(out, byte);
      }
    }
  };
  std::string out;
  escape(before, out);
  escape(quoted.substr(0, shown), out);
  if (quoted.size() > shown) out += "...";
  escape(after.substr(0, 100), out);  // only a short, fixed "; expected ..." unless misread
  return out;
}

/// A name or value from a body as JSON text, cut to `limit` bytes at a character boundary
/// ("..." marks the cut), invalid UTF-8 replaced: a message quoting it stays one short line of
/// UTF-8 whatever it holds (a newline, a quote, 1 MiB).
inline std::string quote_json_text(const std::string& text, std::size_t limit) {
  std::size_t cut = std::min(text.size(), limit);
  while (cut > 0 && cut < text.size() && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  std::string quoted = nlohmann::json(text.substr(0, cut))
                           .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (cut < text.size()) quoted.insert(quoted.size() - 1, "...");
  return quoted;
}

/// JSON Schema's name for the type of `value` (draft-07 validation, section 6.1.1), so that
/// every error about a value's type reads like the schema's error for it.
inline std::string_view json_type_name(const nlohmann::json& value) {
  using value_t = nlohmann::json::value_t;
  switch (value.type()) {
    case value_t::null:
      return "null";
    case value_t::boolean:
      return "boolean";
    case value_t::number_integer:
    case value_t::number_unsigned:
      return "integer";
    case value_t::number_float:
      return "number";
    case value_t::string:
      return "string";
    case value_t::array:
      return "array";
    case value_t::object:
      return "object";
    case value_t::binary:
      return "binary";
    case value_t::discarded:
      return "discarded";
  }
  return "unknown";
}

/// Finds the first byte at which arrays and objects nest deeper than max_json_depth, skipping
/// string contents. It runs before the parser so that no input can make the parser build a
/// deep tree (DESIGN.md, "Sizes": deeper than 64 levels is malformed_json).
inline std::optional<std::size_t> too_deep_at(std::string_view body) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (too_deep(++depth)) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

}  // namespace tykhook::detail
