#include "schema_walk.h"

#include <algorithm>
#include <iterator>
#include <string_view>

#include "schema_errors.h"
#include "schema_rules.h"
#include "tykhook/error.h"

namespace tykhook::detail {

using nlohmann::json;

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
    if (!target.starts_with("#")) return nullptr;
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

namespace {

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

// valijson 1.0 crashes on a "$ref" that it cannot resolve without fetching ("other.json",
// "urn:x", "") and on one that refers to itself ("$ref": "#" at the root), so every "$ref"
// must lead, within the file, to a schema. Throws tykhook::Error starting with `where`.
void check_references_at(const json& root, const json& schema, const std::string& at,
                         const std::string& where) {
  if (!schema.is_object()) return;
  if (const auto ref = schema.find("$ref"); ref != schema.end()) {
    const std::string place =
        "\"$ref\" at " + (at.empty() ? std::string("/") : at) + " (" + quoted(*ref) + ")";
    if (!ref->is_string() || !ref->get_ref<const std::string&>().starts_with("#")) {
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
    check_references_at(root, child, at + step, where);
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
      format != schema->end() && is_date_time_format(*format) &&
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
void check_date_times_at(const json& value, const Path& path, std::size_t step,
                         std::string& pointer, std::vector<std::string>& errors) {
  if (step == path.size()) {
    if (value.is_string() && !is_date_time(value.get_ref<const std::string&>())) {
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
          check_date_times_at(*child, path, step + 1, pointer, errors);
        }
      }
      break;
    case PathStep::Kind::index:
      if (value.is_array() && next.index < value.size()) {
        pointer += '/' + std::to_string(next.index);
        check_date_times_at(value[next.index], path, step + 1, pointer, errors);
      }
      break;
    case PathStep::Kind::every_item:
      if (value.is_array()) {
        for (std::size_t i = 0; i < value.size(); ++i) {
          pointer += '/' + std::to_string(i);
          check_date_times_at(value[i], path, step + 1, pointer, errors);
          pointer.resize(length);
        }
      }
      break;
  }
  pointer.resize(length);
}

}  // namespace

void strip_date_time_formats(json& schema) {
  if (!schema.is_object()) return;
  if (const auto format = schema.find("format");
      format != schema.end() && is_date_time_format(*format)) {
    schema.erase(format);
  }
  for_each_subschema(schema,
                     [](json& child, const std::string&) { strip_date_time_formats(child); });
}

void check_references(const json& root, const std::string& where) {
  check_references_at(root, root, "", where);
  std::vector<const json*> done;
  check_loops_everywhere(root, root, done, where);
}

std::vector<Path> date_time_paths(const json& root) {
  Path at;
  std::vector<const json*> visiting;
  std::vector<Path> found;
  collect_date_time_paths(root, root, at, visiting, found);
  return found;
}

void check_date_times(const json& message, const Path& path, std::vector<std::string>& errors) {
  std::string pointer(message_pointer);
  check_date_times_at(message, path, 0, pointer, errors);
}

}  // namespace tykhook::detail
