#include "json_reencode.h"

#include <algorithm>
#include <string_view>

#include "hex.h"
#include "json_rules.h"

namespace tykhook::detail {
namespace {

bool is_html_escape(std::string_view digits) {
  std::string lower(digits);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
  return lower == "003c" || lower == "003e" || lower == "0026" || lower == "2028" ||
         lower == "2029";
}

void newline(std::string& out, const JsonEncoding& encoding, std::size_t level) {
  if (encoding.layout == JsonLayout::indent2) out.append("\n").append(2 * level, ' ');
  if (encoding.layout == JsonLayout::indent4) out.append("\n").append(4 * level, ' ');
}

// A string as nlohmann escapes it (", \, control characters; lower-case hex as Go writes it),
// then the escapes that Go or PHP add on top. nlohmann writes <, >, &, / and U+2028/9 as
// themselves, so each of them in its output is the character, never part of an escape.
void write_string(std::string& out, const std::string& text, const JsonEncoding& encoding) {
  const std::string dumped = nlohmann::ordered_json(text).dump(
      -1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  for (std::size_t i = 0; i < dumped.size(); ++i) {
    const char c = dumped[i];
    if (encoding.escape_html && (c == '<' || c == '>' || c == '&')) {
      out += "\\u00";
      out += hex_digits[static_cast<unsigned char>(c) >> 4];
      out += hex_digits[static_cast<unsigned char>(c) & 0xf];
    } else if (encoding.escape_html && dumped.compare(i, 2, "\xE2\x80") == 0 &&
               i + 2 < dumped.size() && (dumped[i + 2] == '\xA8' || dumped[i + 2] == '\xA9')) {
      out += dumped[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else if (encoding.escape_slash && c == '/') {
      out += "\\/";
    } else {
      out += c;
    }
  }
}

// The members of `object` in `order`; `top` is the body's own object, where the envelope is.
std::vector<const std::string*> member_names(const nlohmann::ordered_json& object,
                                             JsonKeyOrder order, bool top) {
  std::vector<const std::string*> names;
  for (const auto& item : object.items()) names.push_back(&item.key());
  if (order == JsonKeyOrder::sorted) {
    std::sort(names.begin(), names.end(),
              [](const std::string* a, const std::string* b) { return *a < *b; });
  } else if (order == JsonKeyOrder::envelope_first && top) {
    const auto rank = [](const std::string* name) {
      return *name == event_member       ? 0
             : *name == message_member   ? 1
             : *name == timestamp_member ? 2
                                         : 3;
    };
    std::stable_sort(
        names.begin(), names.end(),
        [&rank](const std::string* a, const std::string* b) { return rank(a) < rank(b); });
  }
  return names;
}

void write_value(std::string& out, const nlohmann::ordered_json& value,
                 const JsonEncoding& encoding, std::size_t level) {
  const std::string_view comma = encoding.layout == JsonLayout::spaced ? ", " : ",";
  const std::string_view colon = encoding.layout == JsonLayout::compact ? ":" : ": ";
  if (value.is_object()) {
    if (value.empty()) {
      out += "{}";
      return;
    }
    out += '{';
    bool first = true;
    for (const std::string* name : member_names(value, encoding.order, level == 0)) {
      if (!first) out += comma;
      first = false;
      newline(out, encoding, level + 1);
      write_string(out, *name, encoding);
      out += colon;
      write_value(out, value.at(*name), encoding, level + 1);
    }
    newline(out, encoding, level);
    out += '}';
  } else if (value.is_array()) {
    if (value.empty()) {
      out += "[]";
      return;
    }
    out += '[';
    bool first = true;
    for (const auto& element : value) {
      if (!first) out += comma;
      first = false;
      newline(out, encoding, level + 1);
      write_value(out, element, encoding, level + 1);
    }
    newline(out, encoding, level);
    out += ']';
  } else if (value.is_string()) {
    write_string(out, value.get_ref<const std::string&>(), encoding);
  } else {
    out += value.dump();
  }
}

}  // namespace

JsonLook look_of(std::string_view text) {
  JsonLook look;
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '"') {
        in_string = false;
      } else if (c == '\\' && i + 1 < text.size()) {
        const char escaped = text[++i];
        if (escaped == '/') look.slash_escapes = true;
        if (escaped == 'u') {
          (is_html_escape(text.substr(i + 1, 4)) ? look.html_escapes : look.other_unicode_escapes) =
              true;
        }
      } else if (c == '<' || c == '>' || c == '&') {
        look.raw_html = true;
      } else if (c == '/') {
        look.raw_slashes = true;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '{':
      case '[':
        look.depth = std::max(look.depth, ++depth);
        break;
      case '}':
      case ']':
        if (depth > 0) --depth;
        break;
      case '\n':
      case '\r':
        look.newlines = true;
        break;
      case ' ':
      case '\t':
        look.spaces = true;
        break;
      default:
        break;
    }
  }
  return look;
}

std::optional<nlohmann::ordered_json> parse_ordered(std::string_view body) {
  // Deeper than the verifier's limit: not a body the portal sends, and the writer recurses.
  if (too_deep(look_of(body).depth)) return std::nullopt;
  auto parsed = nlohmann::ordered_json::parse(body, nullptr, false);
  if (parsed.is_discarded()) return std::nullopt;
  return parsed;
}

std::string encode_json(const nlohmann::ordered_json& value, const JsonEncoding& encoding) {
  std::string out;
  write_value(out, value, encoding, 0);
  return out;
}

std::vector<JsonEncoding> encodings_to_try() {
  std::vector<JsonEncoding> encodings;
  for (const JsonLayout layout :
       {JsonLayout::compact, JsonLayout::indent2, JsonLayout::indent4, JsonLayout::spaced}) {
    for (const JsonKeyOrder order :
         {JsonKeyOrder::as_read, JsonKeyOrder::envelope_first, JsonKeyOrder::sorted}) {
      for (const bool escape_html : {true, false}) {
        for (const bool escape_slash : {false, true}) {
          encodings.push_back({layout, order, escape_html, escape_slash});
        }
      }
    }
  }
  return encodings;
}

}  // namespace tykhook::detail
