#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tykhook::detail {

/// The JSON types as draft-07 names them (validation, section 6.1.1), one bit each; "number" is
/// integer_bit | fraction_bit. A parser reads an integer that fits in int64 or uint64 as an
/// integer, and anything with a fraction or an exponent as a fraction, as nlohmann does.
enum TypeBit : std::uint8_t {
  null_bit = 1,
  boolean_bit = 2,
  integer_bit = 4,
  fraction_bit = 8,  // a number that is not an integer: "number" but not "integer"
  string_bit = 16,
  array_bit = 32,
  object_bit = 64,
};
inline constexpr std::uint8_t any_type = 127;

/// An event's schema document compiled for the fast path (fast_check.h): what a Message must be
/// to pass. A rule only ever says "passes" when the registry's check (valijson and the rules of
/// schema_rules.h) would pass the value too.
struct Plan {
  /// One member that a schema's "properties" or "required" names.
  struct Property {
    std::string name;
    std::size_t rule = 0;  ///< index into Plan::rules
  };
  /// One subschema, compiled.
  struct Rule {
    std::uint8_t types = any_type;                    ///< "type"
    bool date_time = false;                           ///< "format": "date-time"
    std::optional<double> minimum;                    ///< "minimum", as valijson reads it
    std::optional<std::vector<std::string>> allowed;  ///< "enum", strings only
    std::vector<Property> properties;                 ///< "properties" and "required"
    std::uint64_t required = 0;                       ///< bit i: properties[i] is required
    std::optional<std::size_t> items;                 ///< "items" as one schema
  };
  std::vector<Rule> rules;  ///< rules[0] applies to the Message
};

/// Compiles a schema document into a plan; nullopt when it uses a keyword or a form that the plan
/// does not know ("$ref", "pattern", "anyOf", ...), whose bodies then take the registry's check.
[[nodiscard]] std::optional<Plan> compile_plan(const nlohmann::json& schema);

}  // namespace tykhook::detail
