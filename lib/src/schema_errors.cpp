#include "schema_errors.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <system_error>

#include "json_error_text.h"
#include "schema_rules.h"
#include "schema_walk.h"

namespace tykhook::detail {

using nlohmann::json;

namespace {

// A value quoted in an error is cut to this many bytes: enough to recognise it, short enough
// for one log line.
constexpr std::size_t max_quoted_bytes = 40;

// Cuts `text` to at most `max_bytes` without splitting a UTF-8 sequence.
std::string_view cut_utf8(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

}  // namespace

std::string quoted(const json& value) {
  if (value.is_string())
    return quote_json_text(value.get_ref<const std::string&>(), max_quoted_bytes);
  std::string shown = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (shown.size() > max_quoted_bytes)
    shown = std::string(cut_utf8(shown, max_quoted_bytes)) + "...";
  return shown;
}

namespace {

// Where a valijson error points: the JSON pointer, the value there and, when it can be told,
// the subschema that applies there (to word the message from the schema).
struct Location {
  std::string pointer{message_pointer};
  const json* value = nullptr;
  const json* schema = nullptr;
};

// The schema that applies to `token` of a value of `parent`'s kind, under `schema`.
const json* child_schema(const json& root, const json* schema, const json* parent,
                         const std::string& token) {
  if (schema == nullptr) return nullptr;
  schema = follow_refs(root, *schema);
  if (schema == nullptr || !schema->is_object()) return nullptr;
  if (parent != nullptr && parent->is_array()) {
    const auto items = schema->find("items");
    if (items == schema->end()) return nullptr;
    if (!items->is_array()) return &*items;
    std::size_t index = 0;
    const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), index);
    if (ec == std::errc{} && end == token.data() + token.size() && index < items->size()) {
      return &(*items)[index];
    }
    const auto additional = schema->find("additionalItems");
    return additional == schema->end() ? nullptr : &*additional;
  }
  if (const auto properties = schema->find("properties");
      properties != schema->end() && properties->is_object()) {
    if (const auto child = properties->find(token); child != properties->end()) return &*child;
  }
  // Which pattern matches is valijson's business: the message keeps valijson's own words.
  if (schema->contains("patternProperties")) return nullptr;
  const auto additional = schema->find("additionalProperties");
  return additional == schema->end() ? nullptr : &*additional;
}

// valijson names a place as {"<root>", "[ID]", "[0]"}: a property and an index look alike,
// so the message itself tells which each token is.
Location locate(const json& root, const json& message, const std::vector<std::string>& context) {
  Location location;
  location.value = &message;
  location.schema = &root;
  for (std::size_t i = 1; i < context.size(); ++i) {
    std::string token = context[i];
    if (token.size() >= 2 && token.front() == '[' && token.back() == ']') {
      token = token.substr(1, token.size() - 2);
    }
    location.pointer += '/' + escape_token(token);
    location.schema = child_schema(root, location.schema, location.value, token);
    const json* parent = location.value;
    location.value = nullptr;
    if (parent != nullptr && parent->is_object()) {
      if (const auto child = parent->find(token); child != parent->end()) location.value = &*child;
    } else if (parent != nullptr && parent->is_array()) {
      std::size_t index = 0;
      const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), index);
      if (ec == std::errc{} && end == token.data() + token.size() && index < parent->size()) {
        location.value = &(*parent)[index];
      }
    }
  }
  if (location.schema != nullptr) location.schema = follow_refs(root, *location.schema);
  return location;
}

// The text between `prefix` and the closing "'." of a valijson description.
std::string quoted_name(std::string_view description, std::string_view prefix) {
  std::string_view name = description.substr(prefix.size());
  if (name.size() >= 2 && name.substr(name.size() - 2) == "'.") name.remove_suffix(2);
  return json(std::string(name)).dump(-1, ' ', false, json::error_handler_t::replace);
}

// The value of keyword `key` in `schema`, or nullptr when it has none.
const json* keyword(const json* schema, std::string_view key) {
  if (schema == nullptr || !schema->is_object()) return nullptr;
  const auto found = schema->find(key);
  return found == schema->end() ? nullptr : &*found;
}

enum class Finding { type, value_set, other, wrapper, spurious };

struct Described {
  Finding kind = Finding::other;
  std::string text;
};

// Words one valijson error as "what was expected, what was got", from the schema and the
// value where valijson's own sentence says less ("Value type not permitted by 'type'
// constraint."). Anything not recognised keeps valijson's sentence, in lower case.
Described describe(const std::string& description, const Location& at) {
  const json* value = at.value;
  const std::string got = value == nullptr ? std::string() : ", got " + quoted(*value);
  if (description.starts_with("Value type not permitted by 'type' constraint")) {
    if (const json* type = keyword(at.schema, "type"); type != nullptr && value != nullptr) {
      std::string expected;
      if (type->is_array()) {
        for (const json& one : *type) {
          if (!expected.empty()) expected += " or ";
          expected += one.is_string() ? one.get<std::string>() : one.dump();
        }
      } else {
        expected = type->is_string() ? type->get<std::string>() : type->dump();
      }
      return {Finding::type,
              "expected " + expected + ", got " + std::string(json_type_name(*value))};
    }
    return {Finding::type, "value type is not allowed by the schema"};
  }
  if (description.starts_with("Failed to match against any enum values")) {
    if (const json* values = keyword(at.schema, "enum"); values != nullptr && values->is_array()) {
      std::string expected;
      for (const json& one : *values) {
        expected += expected.empty() ? "" : ", ";
        expected += quoted(one);
      }
      const std::string lead = values->size() == 1 ? "expected " : "expected one of ";
      return {Finding::value_set, lead + expected + got};
    }
  }
  if (description.starts_with("Failed to match expected value set by 'const'")) {
    if (const json* expected = keyword(at.schema, "const")) {
      return {Finding::value_set, "expected " + quoted(*expected) + got};
    }
  }
  static constexpr struct {
    std::string_view valijson;
    std::string_view keyword;
    std::string_view relation;
  } bounds[] = {
      {"Expected number greater than or equal to", "minimum", ">="},
      {"Expected number greater than", "exclusiveMinimum", ">"},
      {"Expected number less than or equal to", "maximum", "<="},
      {"Expected number less than", "exclusiveMaximum", "<"},
  };
  for (const auto& bound : bounds) {
    if (!description.starts_with(bound.valijson)) continue;
    if (const json* limit = keyword(at.schema, bound.keyword);
        limit != nullptr && limit->is_number()) {
      // An integer that valijson misreads as negative fails every lower bound; drop that error
      // when the value meets the bound.
      if (value != nullptr && misread_by_valijson(*value) && bound.relation[0] == '>' &&
          (bound.relation == ">=" ? value->get<double>() >= limit->get<double>()
                                  : value->get<double>() > limit->get<double>())) {
        return {Finding::spurious, ""};
      }
      return {Finding::other,
              "expected a number " + std::string(bound.relation) + " " + limit->dump() + got};
    }
    break;
  }
  static constexpr std::string_view missing = "Missing required property '";
  if (description.starts_with(missing)) {
    return {Finding::other, "missing required property " + quoted_name(description, missing)};
  }
  static constexpr std::string_view unexpected =
      "Object contains a property that could not be validated using 'properties' or "
      "'additionalProperties' constraints: '";
  if (description.starts_with(unexpected)) {
    return {Finding::other, "unexpected property " + quoted_name(description, unexpected)};
  }
  std::string text = description;
  if (!text.empty() && text.back() == '.') text.pop_back();
  return {description.starts_with("Failed to validate") ? Finding::wrapper : Finding::other,
          lower_first(std::move(text))};
}

// True when `prefix` is where `path` starts.
bool is_prefix(const std::vector<std::string>& prefix, const std::vector<std::string>& path) {
  return prefix.size() <= path.size() && std::equal(prefix.begin(), prefix.end(), path.begin());
}

}  // namespace

// Turns valijson's results into "<pointer>: <expected>" lines. "Failed to validate item #0"
// and its kind wrap the errors of the children that caused them, so they are dropped when such
// a child error is there; an "enum" error next to a "type" error at the same place says
// nothing more, so it is dropped too.
std::vector<std::string> describe_all(const json& root, const json& message,
                                      const valijson::ValidationResults& results) {
  const std::vector<valijson::ValidationResults::Error> raw(results.begin(), results.end());
  struct Line {
    Finding kind;
    std::string pointer;
    std::string text;
  };
  std::vector<Line> lines;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const Location at = locate(root, message, raw[i].context);
    Described described = describe(raw[i].description, at);
    if (described.kind == Finding::spurious) continue;
    if (described.kind == Finding::wrapper) {
      bool has_child = false;
      for (std::size_t j = 0; j < raw.size() && !has_child; ++j) {
        has_child = j != i && is_prefix(raw[i].context, raw[j].context);
      }
      if (has_child) continue;
    }
    lines.push_back({described.kind, at.pointer, std::move(described.text)});
  }
  std::vector<std::string> errors;
  for (const Line& line : lines) {
    if (line.kind == Finding::value_set &&
        std::any_of(lines.begin(), lines.end(), [&](const Line& other) {
          return other.kind == Finding::type && other.pointer == line.pointer;
        })) {
      continue;
    }
    std::string error = line.pointer + ": " + line.text;
    if (std::find(errors.begin(), errors.end(), error) == errors.end()) {
      errors.push_back(std::move(error));
    }
  }
  return errors;
}

std::string lower_first(std::string text) {
  if (!text.empty())
    text.front() = static_cast<char>(std::tolower(static_cast<unsigned char>(text.front())));
  return text;
}

}  // namespace tykhook::detail
