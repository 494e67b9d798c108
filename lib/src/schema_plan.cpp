#include "schema_plan.h"

#include <algorithm>
#include <iterator>
#include <string_view>
#include <utility>

#include "schema_rules.h"

namespace tykhook::detail {
namespace {

using nlohmann::json;

// Keywords that do not constrain a value. "definitions" only matters through "$ref", which no
// plan accepts.
bool is_annotation(std::string_view keyword) {
  static constexpr std::string_view annotations[] = {
      "$schema", "$id",      "$comment", "title",     "description",
      "default", "examples", "readOnly", "writeOnly", "definitions"};
  return std::find(std::begin(annotations), std::end(annotations), keyword) !=
         std::end(annotations);
}

std::optional<std::uint8_t> type_bits_of(const json& name) {
  if (!name.is_string()) return std::nullopt;
  const std::string& text = name.get_ref<const std::string&>();
  if (text == "null") return null_bit;
  if (text == "boolean") return boolean_bit;
  if (text == "integer") return integer_bit;
  if (text == "number") return integer_bit | fraction_bit;
  if (text == "string") return string_bit;
  if (text == "array") return array_bit;
  if (text == "object") return object_bit;
  return std::nullopt;
}

// Compiles schemas into rules; each compile() returns the index of its rule, or nullopt for a
// schema that uses something the plan does not know (the event then has no plan).
class PlanCompiler {
 public:
  std::vector<Plan::Rule> rules;

  std::optional<std::size_t> compile(const json& schema) {
    // The rule's place is taken before its children's, so the first schema compiled is rules[0].
    const std::size_t index = rules.size();
    rules.emplace_back();
    if (schema.is_boolean()) {
      if (!schema.get<bool>()) return std::nullopt;  // `false`: every value fails
      return index;
    }
    if (!schema.is_object()) return std::nullopt;
    Plan::Rule rule;
    std::vector<std::pair<std::string, std::size_t>> properties;
    std::vector<std::string> required;
    for (const auto& [keyword, value] : schema.items()) {
      if (is_annotation(keyword)) continue;
      if (keyword == "type") {
        if (value.is_array()) {
          rule.types = 0;
          for (const json& name : value) {
            const auto bits = type_bits_of(name);
            if (!bits) return std::nullopt;
            rule.types |= *bits;
          }
        } else {
          const auto bits = type_bits_of(value);
          if (!bits) return std::nullopt;
          rule.types = *bits;
        }
      } else if (keyword == "enum") {
        if (!value.is_array()) return std::nullopt;
        rule.allowed.emplace();
        for (const json& one : value) {
          if (!one.is_string()) return std::nullopt;
          rule.allowed->push_back(one.get<std::string>());
        }
      } else if (keyword == "minimum") {
        // Plan only bounds that valijson reads as written.
        rule.minimum = bound_as_valijson_reads(value);
        if (!rule.minimum) return std::nullopt;
      } else if (keyword == "format") {
        if (!is_date_time_format(value)) return std::nullopt;
        rule.date_time = true;
      } else if (keyword == "required") {
        if (!value.is_array()) return std::nullopt;
        for (const json& name : value) {
          if (!name.is_string()) return std::nullopt;
          required.push_back(name.get<std::string>());
        }
      } else if (keyword == "properties") {
        if (!value.is_object()) return std::nullopt;
        for (const auto& [name, child] : value.items()) {
          const auto child_index = compile(child);
          if (!child_index) return std::nullopt;
          properties.emplace_back(name, *child_index);
        }
      } else if (keyword == "additionalProperties") {
        if (value != true) return std::nullopt;
      } else if (keyword == "items") {
        if (value.is_array()) return std::nullopt;  // the tuple form
        const auto items_index = compile(value);
        if (!items_index) return std::nullopt;
        rule.items = *items_index;
      } else {
        return std::nullopt;
      }
    }
    for (auto& [name, rule_index] : properties) {
      rule.properties.push_back({std::move(name), rule_index});
    }
    const auto named = [&rule](const std::string& name) {
      return std::find_if(rule.properties.begin(), rule.properties.end(),
                          [&](const Plan::Property& p) { return p.name == name; });
    };
    for (const std::string& name : required) {
      if (named(name) != rule.properties.end()) continue;
      rule.properties.push_back({name, rules.size()});
      rules.emplace_back();  // a required member without a schema: any value
    }
    if (rule.properties.size() > 64) return std::nullopt;  // one bit each in a 64-bit mask
    for (const std::string& name : required) {
      rule.required |= std::uint64_t{1} << (named(name) - rule.properties.begin());
    }
    rules[index] = std::move(rule);
    return index;
  }
};

}  // namespace

std::optional<Plan> compile_plan(const json& schema) {
  PlanCompiler compiler;
  if (!compiler.compile(schema)) return std::nullopt;
  return Plan{std::move(compiler.rules)};
}

}  // namespace tykhook::detail
