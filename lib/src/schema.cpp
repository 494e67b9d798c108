#include "tykhook/schema.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>
#include <vector>

#include "embedded_schemas.h"
#include "json_error_text.h"
#include "schema_rules.h"
#include "tykhook/error.h"
#include "tykhook/timestamp.h"

namespace tykhook {
namespace {

using nlohmann::json;

// Errors name a place in the body, so every pointer starts at the Message (schema.h).
constexpr std::string_view message_pointer = "/Message";
// A value quoted in an error is cut to this many bytes: enough to recognise it, short enough
// for one log line.
constexpr std::size_t max_quoted_bytes = 40;

// One step from a value to one of its children, on the way to a date-time value.
struct PathStep {
  enum class Kind { property, index, every_item };
  Kind kind = Kind::property;
  std::string name;       // for Kind::property
  std::size_t index = 0;  // for Kind::index
  bool operator==(const PathStep&) const = default;
};
using Path = std::vector<PathStep>;

// One event's schema: the document as written, where in a Message its date-times are, and
// valijson's compiled form of it without the date-time formats. valijson's form is built by the
// first validation that needs it: most deliveries pass the verifier's fast path, which plans
// from the document alone (schema_plan.h), and never get here.
struct CompiledSchema {
  json document;
  std::vector<Path> date_times;
  std::once_flag checker_once;
  std::unique_ptr<const valijson::Schema> checker;
};

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// RFC 6901, section 3: "~" is written "~0" and "/" is written "~1".
std::string escape_token(std::string_view token) {
  std::string escaped;
  escaped.reserve(token.size());
  for (const char c : token) {
    if (c == '~') {
      escaped += "~0";
    } else if (c == '/') {
      escaped += "~1";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

// Cuts `text` to at most `max_bytes` without splitting a UTF-8 sequence.
std::string_view cut_utf8(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

// A value as it appears in an error: JSON text, long strings and containers cut short.
// Invalid UTF-8 (possible in a json built by hand) is replaced rather than thrown on.
std::string quoted(const json& value) {
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    const std::string_view cut = cut_utf8(text, max_quoted_bytes);
    std::string shown = json(std::string(cut)).dump(-1, ' ', false, json::error_handler_t::replace);
    if (cut.size() < text.size()) shown.insert(shown.size() - 1, "...");
    return shown;
  }
  std::string shown = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (shown.size() > max_quoted_bytes)
    shown = std::string(cut_utf8(shown, max_quoted_bytes)) + "...";
  return shown;
}

// Follows local references ("$ref": "#/definitions/x") to the schema they name. A "$ref"
// replaces its siblings in draft-07 (core, section 8.3), as it does in valijson. Returns
// nullptr for a reference that leaves the document or loops.
const json* follow_refs(const json& root, const json& node) {
  const json* schema = &node;
  for (int hops = 0; hops < 32; ++hops) {
    if (!schema->is_object()) return schema;
    const auto ref = schema->find("$ref");
    if (ref == schema->end()) return schema;
    if (!ref->is_string()) return nullptr;
    const std::string& target = ref->get_ref<const std::string&>();
    if (!starts_with(target, "#")) return nullptr;
    try {
      const json::json_pointer pointer(target.substr(1));
      if (!root.contains(pointer)) return nullptr;
      schema = &root.at(pointer);
    } catch (const json::exception&) {
      return nullptr;
    }
  }
  return nullptr;
}

// Calls visit(child, step) for each schema directly inside `schema`, `step` being the JSON
// pointer from `schema` to `child`. Only keywords whose values are schemas count: "enum",
// "const" or "default" may hold objects that look like schemas but are data.
template <class Json, class Visit>
void for_each_subschema(Json& schema, const Visit& visit) {
  static constexpr std::string_view schema_maps[] = {"properties", "patternProperties",
                                                     "definitions", "dependencies"};
  static constexpr std::string_view schema_values[] = {"items",
                                                       "additionalItems",
                                                       "additionalProperties",
                                                       "contains",
                                                       "propertyNames",
                                                       "not",
                                                       "if",
                                                       "then",
                                                       "else",
                                                       "allOf",
                                                       "anyOf",
                                                       "oneOf"};
  if (!schema.is_object()) return;
  for (auto& [key, value] : schema.items()) {
    const std::string step = "/" + escape_token(key);
    if (std::find(std::begin(schema_maps), std::end(schema_maps), key) != std::end(schema_maps)) {
      if (!value.is_object()) continue;
      for (auto& [name, child] : value.items()) visit(child, step + "/" + escape_token(name));
    } else if (std::find(std::begin(schema_values), std::end(schema_values), key) !=
               std::end(schema_values)) {
      if (!value.is_array()) {
        visit(value, step);
        continue;
      }
      for (std::size_t i = 0; i < value.size(); ++i)
        visit(value[i], step + "/" + std::to_string(i));
    }
  }
}

// The copy that valijson compiles has the date-time formats that tykhook checks itself
// (schema_rules.h) removed; check_date_times() applies them.
void strip_date_time_formats(json& schema) {
  if (!schema.is_object()) return;
  if (const auto format = schema.find("format");
      format != schema.end() && detail::is_date_time_format(*format)) {
    schema.erase(format);
  }
  for_each_subschema(schema,
                     [](json& child, const std::string&) { strip_date_time_formats(child); });
}

// valijson 1.0 crashes on a "$ref" that it cannot resolve without fetching ("other.json",
// "urn:x", "") and on one that refers to itself ("$ref": "#" at the root), so every "$ref"
// must lead, within the file, to a schema. Throws tykhook::Error starting with `where`.
void check_references(const json& root, const json& schema, const std::string& at,
                      const std::string& where) {
  if (!schema.is_object()) return;
  if (const auto ref = schema.find("$ref"); ref != schema.end()) {
    const std::string place =
        "\"$ref\" at " + (at.empty() ? std::string("/") : at) + " (" + quoted(*ref) + ")";
    if (!ref->is_string() || !starts_with(ref->get_ref<const std::string&>(), "#")) {
      throw Error(where + ": " + place +
                  " points outside the file; schemas must be self-contained, e.g. "
                  "\"#/definitions/name\"");
    }
    if (follow_refs(root, schema) == nullptr) {
      throw Error(where + ": " + place +
                  " does not lead to a schema in the file (a missing target or a loop)");
    }
  }
  for_each_subschema(schema, [&](const json& child, const std::string& step) {
    check_references(root, child, at + step, where);
  });
}

// The schemas that apply to the same value as `schema` does: valijson follows these keywords
// without moving to a child value.
std::vector<const json*> in_place_subschemas(const json& root, const json& schema) {
  std::vector<const json*> found;
  const auto add = [&](const json& child) {
    if (const json* target = follow_refs(root, child)) found.push_back(target);
  };
  for (const std::string_view key : {"allOf", "anyOf", "oneOf"}) {
    if (const auto list = schema.find(key); list != schema.end() && list->is_array()) {
      for (const json& child : *list) add(child);
    }
  }
  for (const std::string_view key : {"not", "if", "then", "else"}) {
    if (const auto child = schema.find(key); child != schema.end()) add(*child);
  }
  if (const auto dependencies = schema.find("dependencies");
      dependencies != schema.end() && dependencies->is_object()) {
    for (const json& child : *dependencies) {
      if (child.is_object()) add(child);
    }
  }
  return found;
}

// valijson has no depth limit, so a reference back to an enclosing schema that stays on the
// same value ({"allOf": [{"$ref": "#"}]}) would recurse until the stack overflows on the first
// message. Throws tykhook::Error starting with `where` for such a loop.
void check_in_place_loops(const json& root, const json& schema, std::vector<const json*>& stack,
                          std::vector<const json*>& done, const std::string& where) {
  if (!schema.is_object() || std::find(done.begin(), done.end(), &schema) != done.end()) return;
  if (std::find(stack.begin(), stack.end(), &schema) != stack.end()) {
    throw Error(where +
                ": a \"$ref\" leads back to an enclosing schema through allOf, anyOf, oneOf, "
                "not, if, then, else or dependencies, which never ends; refer to it from "
                "\"properties\" or \"items\" instead");
  }
  stack.push_back(&schema);
  for (const json* child : in_place_subschemas(root, schema)) {
    check_in_place_loops(root, *child, stack, done, where);
  }
  stack.pop_back();
  done.push_back(&schema);
}

// Runs check_in_place_loops() from every schema of the document.
void check_loops_everywhere(const json& root, const json& schema, std::vector<const json*>& done,
                            const std::string& where) {
  if (const json* target = follow_refs(root, schema)) {
    std::vector<const json*> stack;
    check_in_place_loops(root, *target, stack, done, where);
  }
  for_each_subschema(schema, [&](const json& child, const std::string&) {
    check_loops_everywhere(root, child, done, where);
  });
}

// Finds the paths to every value that the schema declares "format": "date-time", through
// "properties", "items", "allOf" and local references. A date-time under a conditional
// keyword (anyOf, oneOf, not, if) or a pattern is not checked: whether it applies depends on
// the value, and the events' schemas do not use them.
void collect_date_time_paths(const json& root, const json& node, Path& at,
                             std::vector<const json*>& visiting, std::vector<Path>& found) {
  const json* schema = follow_refs(root, node);
  if (schema == nullptr || !schema->is_object()) return;
  // A recursive schema ("$ref": "#") would otherwise be walked forever.
  if (std::find(visiting.begin(), visiting.end(), schema) != visiting.end()) return;
  visiting.push_back(schema);

  if (const auto format = schema->find("format");
      format != schema->end() && detail::is_date_time_format(*format) &&
      std::find(found.begin(), found.end(), at) == found.end()) {
    found.push_back(at);
  }
  if (const auto all_of = schema->find("allOf"); all_of != schema->end() && all_of->is_array()) {
    for (const json& child : *all_of) collect_date_time_paths(root, child, at, visiting, found);
  }
  if (const auto properties = schema->find("properties");
      properties != schema->end() && properties->is_object()) {
    for (const auto& [name, child] : properties->items()) {
      at.push_back({.kind = PathStep::Kind::property, .name = name, .index = 0});
      collect_date_time_paths(root, child, at, visiting, found);
      at.pop_back();
    }
  }
  if (const auto items = schema->find("items"); items != schema->end()) {
    if (items->is_array()) {
      for (std::size_t i = 0; i < items->size(); ++i) {
        at.push_back({.kind = PathStep::Kind::index, .name = {}, .index = i});
        collect_date_time_paths(root, (*items)[i], at, visiting, found);
        at.pop_back();
      }
    } else {
      at.push_back({.kind = PathStep::Kind::every_item, .name = {}, .index = 0});
      collect_date_time_paths(root, *items, at, visiting, found);
      at.pop_back();
    }
  }
  visiting.pop_back();
}

// Checks every value at `path` (from step `step` on) with is_date_time(). A value that is not a
// string is left to the "type" check, and an absent one to "required".
void check_date_times(const json& value, const Path& path, std::size_t step, std::string& pointer,
                      std::vector<std::string>& errors) {
  if (step == path.size()) {
    if (value.is_string() && !detail::is_date_time(value.get_ref<const std::string&>())) {
      errors.push_back(pointer + ": expected an RFC 3339 date-time, got " + quoted(value));
    }
    return;
  }
  const std::size_t length = pointer.size();
  const PathStep& next = path[step];
  switch (next.kind) {
    case PathStep::Kind::property:
      if (value.is_object()) {
        if (const auto child = value.find(next.name); child != value.end()) {
          pointer += '/' + escape_token(next.name);
          check_date_times(*child, path, step + 1, pointer, errors);
        }
      }
      break;
    case PathStep::Kind::index:
      if (value.is_array() && next.index < value.size()) {
        pointer += '/' + std::to_string(next.index);
        check_date_times(value[next.index], path, step + 1, pointer, errors);
      }
      break;
    case PathStep::Kind::every_item:
      if (value.is_array()) {
        for (std::size_t i = 0; i < value.size(); ++i) {
          pointer += '/' + std::to_string(i);
          check_date_times(value[i], path, step + 1, pointer, errors);
          pointer.resize(length);
        }
      }
      break;
  }
  pointer.resize(length);
}

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
  if (starts_with(description, "Value type not permitted by 'type' constraint")) {
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
              "expected " + expected + ", got " + std::string(detail::json_type_name(*value))};
    }
    return {Finding::type, "value type is not allowed by the schema"};
  }
  if (starts_with(description, "Failed to match against any enum values")) {
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
  if (starts_with(description, "Failed to match expected value set by 'const'")) {
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
    if (!starts_with(description, bound.valijson)) continue;
    if (const json* limit = keyword(at.schema, bound.keyword);
        limit != nullptr && limit->is_number()) {
      // An integer that valijson misreads as negative fails every lower bound; drop that error
      // when the value meets the bound.
      if (value != nullptr && detail::misread_by_valijson(*value) && bound.relation[0] == '>' &&
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
  if (starts_with(description, missing)) {
    return {Finding::other, "missing required property " + quoted_name(description, missing)};
  }
  static constexpr std::string_view unexpected =
      "Object contains a property that could not be validated using 'properties' or "
      "'additionalProperties' constraints: '";
  if (starts_with(description, unexpected)) {
    return {Finding::other, "unexpected property " + quoted_name(description, unexpected)};
  }
  std::string text = description;
  if (!text.empty() && text.back() == '.') text.pop_back();
  if (!text.empty())
    text.front() = static_cast<char>(std::tolower(static_cast<unsigned char>(text.front())));
  return {starts_with(description, "Failed to validate") ? Finding::wrapper : Finding::other, text};
}

bool is_prefix(const std::vector<std::string>& prefix, const std::vector<std::string>& path) {
  return prefix.size() <= path.size() && std::equal(prefix.begin(), prefix.end(), path.begin());
}

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

// Without its "[json.exception.parse_error.101] " tag, which names nlohmann's code, not the file.
std::string without_tag(std::string_view what) {
  if (starts_with(what, "[json.exception.")) {
    if (const auto end = what.find("] "); end != std::string_view::npos)
      what.remove_prefix(end + 2);
  }
  return std::string(what);
}

std::string lower_first(std::string text) {
  if (!text.empty())
    text.front() = static_cast<char>(std::tolower(static_cast<unsigned char>(text.front())));
  return text;
}

// Reads and checks the schema document `text`; throws tykhook::Error starting with `where`
// when it is not JSON, not a schema, or has a "$ref" that valijson would crash on. The "$ref"
// checks are skipped for an embedded schema (`embedded`): its file in schemas/ passes them in
// tests/schema_test.cpp ("from_directory loads schemas/"), and they cost as much as its parse.
std::unique_ptr<CompiledSchema> load(const std::string& where, std::string_view text,
                                     bool embedded) {
  auto compiled = std::make_unique<CompiledSchema>();
  try {
    compiled->document = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(where + ": not valid JSON: " + without_tag(e.what()));
  }
  if (!compiled->document.is_object() && !compiled->document.is_boolean()) {
    throw Error(where + ": expected a JSON Schema (an object or a boolean), got " +
                std::string(detail::json_type_name(compiled->document)));
  }
  if (!embedded) {
    check_references(compiled->document, compiled->document, "", where);
    std::vector<const json*> done;
    check_loops_everywhere(compiled->document, compiled->document, done, where);
  }
  Path at;
  std::vector<const json*> visiting;
  collect_date_time_paths(compiled->document, compiled->document, at, visiting,
                          compiled->date_times);
  return compiled;
}

// valijson's form of a document that load() accepted, built once; throws tykhook::Error
// starting with `where` when valijson cannot compile it (then the next call tries again).
const valijson::Schema& checker_of(CompiledSchema& compiled, const std::string& where) {
  std::call_once(compiled.checker_once, [&] {
    json stripped = compiled.document;
    strip_date_time_formats(stripped);
    auto checker = std::make_unique<valijson::Schema>();
    try {
      valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
      const valijson::adapters::NlohmannJsonAdapter adapter(stripped);
      parser.populateSchema(adapter, *checker);
    } catch (const std::exception& e) {
      throw Error(where + ": not a valid draft-07 schema: " + lower_first(without_tag(e.what())));
    }
    compiled.checker = std::move(checker);
  });
  return *compiled.checker;
}

std::string schema_file_name(Event event) { return std::string(to_string(event)) + ".schema.json"; }

std::string read_schema_file(const std::filesystem::path& file) {
  std::error_code ec;
  const auto status = std::filesystem::status(file, ec);
  if (!std::filesystem::exists(status)) {
    throw Error(file.string() + ": no such file; the directory needs one " +
                "<WireEventName>.schema.json per event");
  }
  if (!std::filesystem::is_regular_file(status)) {
    throw Error(file.string() + ": not a regular file");
  }
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad() || text.bad()) {
    const int error = errno;
    throw Error(file.string() +
                ": cannot read: " + lower_first(std::generic_category().message(error)));
  }
  return std::move(text).str();
}

// Checks `message` with valijson, then its date-times with is_date_time().
std::vector<std::string> check(const CompiledSchema& compiled, const valijson::Schema& checker,
                               const json& message) {
  std::vector<std::string> errors;
  // One per thread: a Validator caches the regexes of "pattern" and is not safe to share.
  thread_local valijson::Validator validator;
  const valijson::adapters::NlohmannJsonAdapter target(message);
  // Most deliveries are valid: a pass that stops at the first violation decides, and only a
  // failed one pays for a second pass that collects every violation.
  if (!validator.validate(checker, target, nullptr)) {
    valijson::ValidationResults results;
    validator.validate(checker, target, &results);
    errors = describe_all(compiled.document, message, results);
    // A "false" schema fails without a word; an error valijson made up is no error at all.
    if (errors.empty() && results.numErrors() == 0) {
      errors.push_back(std::string(message_pointer) + ": not allowed by the schema");
    }
  }
  std::string pointer(message_pointer);
  for (const Path& path : compiled.date_times) check_date_times(message, path, 0, pointer, errors);
  return errors;
}

}  // namespace

struct SchemaRegistry::Impl {
  // One event's schema, read and checked the first time it is needed (embedded()), or at once
  // (from_directory()).
  struct Entry {
    std::string where;      // names the schema in errors: "embedded X.schema.json", a path
    std::string_view text;  // the text to load; empty once loaded
    bool embedded = false;
    std::once_flag once;
    std::unique_ptr<CompiledSchema> compiled;
  };
  // Indexed by the Event's value; all_events() lists them in enum order.
  std::vector<Entry> entries;

  explicit Impl(std::size_t count) : entries(count) {}

  // The schema of the event at `index` (< entries.size()), loaded once: concurrent first
  // callers wait for one load, later ones only test the flag. Throws what load() throws; the
  // next call then tries again.
  CompiledSchema& compiled(std::size_t index) {
    Entry& entry = entries[index];
    std::call_once(entry.once, [&entry] {
      entry.compiled = load(entry.where, entry.text, entry.embedded);
      entry.text = {};
    });
    return *entry.compiled;
  }
};

SchemaRegistry::SchemaRegistry(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SchemaRegistry::~SchemaRegistry() = default;

std::string_view SchemaRegistry::embedded_text(Event event) {
  const std::string name = schema_file_name(event);
  for (const auto& file : detail::embedded_schemas()) {
    if (file.name == name) return file.text;
  }
  throw Error("embedded schemas: " + name + " is missing; add schemas/" + name + " and rebuild");
}

std::shared_ptr<const SchemaRegistry> SchemaRegistry::embedded() {
  // Compiling a schema costs far more than a validation, and a process meets few events (a
  // `tykhook verify` of one capture, one): each is compiled the first time it is needed. The
  // embedded schemas cannot fail to compile in a working build (tests/schema_test.cpp compiles
  // every one), so nothing that start-up would report is deferred. A missing file is a broken
  // build; the exception propagates and the next call tries again.
  static const std::shared_ptr<const SchemaRegistry> registry = [] {
    auto impl = std::make_unique<Impl>(all_events().size());
    for (const Event event : all_events()) {
      Impl::Entry& entry = impl->entries.at(static_cast<std::size_t>(event));
      entry.where = "embedded " + schema_file_name(event);
      entry.text = embedded_text(event);
      entry.embedded = true;
    }
    return std::shared_ptr<const SchemaRegistry>(new SchemaRegistry(std::move(impl)));
  }();
  return registry;
}

std::shared_ptr<const SchemaRegistry> SchemaRegistry::from_directory(
    const std::filesystem::path& dir) {
  // A user's schemas are compiled completely here, valijson's form included, so that every
  // error in them is reported at start-up rather than on the first delivery.
  auto impl = std::make_unique<Impl>(all_events().size());
  for (const Event event : all_events()) {
    const auto index = static_cast<std::size_t>(event);
    const std::filesystem::path file = dir / schema_file_name(event);
    const std::string text = read_schema_file(file);
    Impl::Entry& entry = impl->entries.at(index);
    entry.where = file.string();
    entry.text = text;
    checker_of(impl->compiled(index), entry.where);
  }
  return std::shared_ptr<const SchemaRegistry>(new SchemaRegistry(std::move(impl)));
}

std::vector<std::string> SchemaRegistry::validate(Event event,
                                                  const nlohmann::json& message) const {
  // A delivery's content causes values, never exceptions (STYLE.md): whatever valijson or
  // nlohmann throw becomes a violation.
  try {
    const auto index = static_cast<std::size_t>(event);
    if (index >= impl_->entries.size()) {
      return {std::string(message_pointer) + ": no schema for event number " +
              std::to_string(index)};
    }
    CompiledSchema& compiled = impl_->compiled(index);
    return check(compiled, checker_of(compiled, impl_->entries[index].where), message);
  } catch (const std::exception& e) {
    return {std::string(message_pointer) + ": cannot be checked against the schema: " + e.what()};
  } catch (...) {
    return {std::string(message_pointer) + ": cannot be checked against the schema"};
  }
}

const nlohmann::json& SchemaRegistry::schema(Event event) const {
  const auto index = static_cast<std::size_t>(event);
  if (index >= impl_->entries.size()) {
    throw std::invalid_argument("SchemaRegistry::schema: event number " + std::to_string(index) +
                                " is not in the catalogue");
  }
  return impl_->compiled(index).document;
}

}  // namespace tykhook
