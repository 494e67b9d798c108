#include "fast_check.h"

#include <simdjson.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "json_rules.h"
#include "schema_plan.h"
#include "schema_rules.h"
#include "tykhook/envelope.h"
#include "tykhook/schema.h"
#include "tykhook/timestamp.h"

namespace tykhook::detail {
namespace {

using nlohmann::json;
using simdjson::dom::element;
using simdjson::dom::element_type;

// Bodies above this size take the slow path. Each thread's parser keeps the capacity of the
// largest body that it has parsed, and the portal's bodies are a few hundred bytes.
constexpr std::size_t max_fast_body = 64 * 1024;
constexpr std::size_t initial_capacity = 4 * 1024;
// simdjson counts the values inside the deepest array or object as one level more: with a limit
// of 64 it refuses 64 nested arrays around a number, yet takes 64 around nothing. So it gets
// one level of slack, and the walks below refuse anything deeper than max_json_depth
// themselves; that makes the limit exact (DESIGN.md: 64 levels pass, 65 are malformed_json).
constexpr std::size_t parser_depth = max_json_depth + 1;
// The depth of the values in the body's object (Message, ...); the object itself is level 1.
constexpr std::size_t member_depth = 2;

// The plan's type bit of a value as simdjson reads it: an integer that fits in int64 or uint64
// as an integer, anything with a fraction or an exponent as a double, as nlohmann does.
std::uint8_t type_bit(element_type type) {
  switch (type) {
    case element_type::ARRAY:
      return array_bit;
    case element_type::OBJECT:
      return object_bit;
    case element_type::INT64:
    case element_type::UINT64:
      return integer_bit;
    case element_type::DOUBLE:
      return fraction_bit;
    case element_type::STRING:
      return string_bit;
    case element_type::BOOL:
      return boolean_bit;
    case element_type::NULL_VALUE:
      return null_bit;
  }
  return 0;
}

// The object or the array of an element known to be one, copied out of the temporary result
// that holds it (a range-for over that result's reference would outlive it).
simdjson::dom::object object_of(element value) { return value.get_object().value_unsafe(); }
simdjson::dom::array array_of(element value) { return value.get_array().value_unsafe(); }

using Rule = Plan::Rule;

// True when no two members of `object` share a name.
bool names_unique(simdjson::dom::object object) {
  MemberNames<std::string_view> names;
  for (const auto field : object) {
    if (!names.add(field.key)) return false;
  }
  return true;
}

// names_unique() for every object in `value`, at any depth (DESIGN.md: a repeated name is
// malformed_json wherever it is), and no array or object deeper than max_json_depth; `value`
// is at `depth`.
bool all_names_unique(element value, std::size_t depth) {
  if (value.type() == element_type::OBJECT) {
    if (too_deep(depth)) return false;
    const auto object = object_of(value);
    if (!names_unique(object)) return false;
    for (const auto field : object) {
      if (!all_names_unique(field.value, depth + 1)) return false;
    }
  } else if (value.type() == element_type::ARRAY) {
    if (too_deep(depth)) return false;
    for (const element item : array_of(value)) {
      if (!all_names_unique(item, depth + 1)) return false;
    }
  }
  return true;
}

// True when `name` is `key`. Most names differ in length or in the first byte, tested first.
bool same_name(const std::string& name, std::string_view key) {
  return name.size() == key.size() &&
         (key.empty() ||
          (name.front() == key.front() && std::memcmp(name.data(), key.data(), key.size()) == 0));
}

// Checks what `rule` says of a value itself (type, enum, minimum, date-time), not of its members
// or items: true when the registry's check (valijson and schema_rules.h) would pass it too.
bool admits(const Rule& rule, element value, element_type type) {
  if ((rule.types & type_bit(type)) == 0) return false;
  // An "enum" of strings passes no other kind of value.
  if (rule.allowed && type != element_type::STRING) return false;
  switch (type) {
    case element_type::STRING: {
      const std::string_view text = value.get_string().value_unsafe();
      if (rule.allowed &&
          std::find(rule.allowed->begin(), rule.allowed->end(), text) == rule.allowed->end()) {
        return false;
      }
      return !rule.date_time || is_date_time(text);
    }
    case element_type::INT64:
      // valijson compares double(int64) with the bound (MinimumConstraint).
      return !rule.minimum ||
             static_cast<double>(value.get_int64().value_unsafe()) >= *rule.minimum;
    case element_type::UINT64:
      // Above INT64_MAX, which valijson misreads (misread_by_valijson): let the slow path decide.
      return !rule.minimum;
    case element_type::DOUBLE:
      return !rule.minimum || value.get_double().value_unsafe() >= *rule.minimum;
    case element_type::ARRAY:
    case element_type::OBJECT:
    case element_type::BOOL:
    case element_type::NULL_VALUE:
      return true;
  }
  return false;
}

// Builds the nlohmann value of the Message as nlohmann's own parser would have (a non-negative
// integer is number_unsigned, a negative one number_integer) and runs the plan over it on the
// way, in one walk; or, without a value to build into, only runs the plan. Fails on a repeated
// name in an object, on an array or object deeper than max_json_depth, and on any value that
// the plan does not pass.
class MessageBuilder {
 public:
  explicit MessageBuilder(const Plan* plan) : plan_(plan) {}

  bool saw_zero = false;  // an integer 0, which may have been written "-0"

  // Builds `value`, at `depth`, into `*out` (nullptr: checks it only). `rule` is the plan's rule
  // for it, or nullptr when nothing constrains it (no schema stage, or a member that the schema
  // does not name).
  bool build(element value, json* out, std::size_t depth, const Rule* rule) {
    const element_type type = value.type();
    if (rule != nullptr && !admits(*rule, value, type)) return false;
    switch (type) {
      case element_type::ARRAY: {
        if (too_deep(depth)) return false;
        const Rule* item_rule =
            rule != nullptr && rule->items ? &plan_->rules[*rule->items] : nullptr;
        const auto array = array_of(value);
        json::array_t* items = nullptr;
        if (out != nullptr) {
          *out = json(json::value_t::array);
          items = &out->get_ref<json::array_t&>();
          items->reserve(array.size());
        }
        for (const element item : array) {
          json* into = items != nullptr ? &items->emplace_back() : nullptr;
          if (!build(item, into, depth + 1, item_rule)) return false;
        }
        return true;
      }
      case element_type::OBJECT: {
        if (too_deep(depth)) return false;
        const bool named = rule != nullptr && !rule->properties.empty();
        std::uint64_t seen = 0;
        const auto object = object_of(value);
        json::object_t* members = nullptr;
        if (out != nullptr) {
          *out = json(json::value_t::object);
          members = &out->get_ref<json::object_t&>();
        } else if (!names_unique(object)) {
          return false;
        }
        for (const auto field : object) {
          const Rule* member_rule = nullptr;
          for (std::size_t i = 0; named && i < rule->properties.size(); ++i) {
            if (!same_name(rule->properties[i].name, field.key)) continue;
            member_rule = &plan_->rules[rule->properties[i].rule];
            seen |= std::uint64_t{1} << i;
            break;
          }
          json* into = nullptr;
          if (members != nullptr) {
            // The Message's own map refuses a repeated name (json_rules.h) as it is built.
            const auto [at, inserted] = members->try_emplace(std::string(field.key));
            if (!inserted) return false;
            into = &at->second;
          }
          if (!build(field.value, into, depth + 1, member_rule)) return false;
        }
        return !named || (seen & rule->required) == rule->required;
      }
      case element_type::INT64: {
        const std::int64_t number = value.get_int64().value_unsafe();
        saw_zero = saw_zero || number == 0;
        if (out != nullptr) {
          if (number >= 0) {
            *out = static_cast<std::uint64_t>(number);
          } else {
            *out = number;
          }
        }
        return true;
      }
      case element_type::UINT64:
        if (out != nullptr) *out = value.get_uint64().value_unsafe();
        return true;
      case element_type::DOUBLE:
        if (out != nullptr) *out = value.get_double().value_unsafe();
        return true;
      case element_type::STRING:
        if (out != nullptr) *out = std::string(value.get_string().value_unsafe());
        return true;
      case element_type::BOOL:
        if (out != nullptr) *out = value.get_bool().value_unsafe();
        return true;
      case element_type::NULL_VALUE:
        if (out != nullptr) *out = nullptr;
        return true;
    }
    return false;
  }

 private:
  const Plan* plan_;
};

// simdjson reads "-0" as the integer 0, like "0", while nlohmann reads it as number_integer
// and "0" as number_unsigned. In valid JSON, "-0" followed by a digit is inside a string, and
// "-0." or "-0e" is a double, which both read alike; anything else may be an integer "-0".
bool may_have_negative_zero(std::string_view body) {
  for (auto at = body.find("-0"); at != std::string_view::npos; at = body.find("-0", at + 1)) {
    if (at + 2 == body.size()) return true;
    const char next = body[at + 2];
    if (!(next >= '0' && next <= '9') && next != '.' && next != 'e' && next != 'E') return true;
  }
  return false;
}

// One parser per thread, reused: it keeps its buffers between bodies. Returns nullptr when the
// parser cannot be set up (no memory); it then keeps simdjson's default depth limit, not ours.
simdjson::dom::parser* thread_parser() {
  thread_local simdjson::dom::parser parser(max_fast_body);
  if (parser.max_depth() != parser_depth &&
      parser.allocate(initial_capacity, parser_depth) != simdjson::SUCCESS) {
    return nullptr;
  }
  return &parser;
}

}  // namespace

struct FastChecker::Impl {
  // One event's plan, compiled from its schema document by the first body of the event: a
  // process that meets one event compiles one plan (bench/README.md, CLI).
  struct LazyPlan {
    std::once_flag once;
    std::optional<Plan> plan;
  };

  const SchemaRegistry* schemas = nullptr;
  bool allow_unknown_events = false;
  // Indexed by the Event's value. Filled in by const checks, under each plan's once_flag:
  // concurrent first bodies of an event wait for one compilation, later ones only test the flag.
  mutable std::vector<LazyPlan> plans;

  Impl(const SchemaRegistry* registry, bool allow_unknown)
      : schemas(registry), allow_unknown_events(allow_unknown), plans(all_events().size()) {}

  // The plan of `event`, or nullptr when it has none. Throws what compiling it throws (no
  // memory, a broken embedded schema); the next call then tries again.
  const Plan* plan_of(Event event) const;
  std::optional<Envelope> check(std::string_view body, bool keep_message) const;
};

FastChecker::FastChecker(const SchemaRegistry* schemas, bool allow_unknown_events)
    : impl_(std::make_unique<Impl>(schemas, allow_unknown_events)) {}

FastChecker::~FastChecker() = default;
FastChecker::FastChecker(FastChecker&&) noexcept = default;
FastChecker& FastChecker::operator=(FastChecker&&) noexcept = default;

const Plan* FastChecker::Impl::plan_of(Event event) const {
  const auto index = static_cast<std::size_t>(event);
  if (index >= plans.size()) return nullptr;
  LazyPlan& lazy = plans[index];
  std::call_once(lazy.once, [&] { lazy.plan = compile_plan(schemas->schema(event)); });
  return lazy.plan ? &*lazy.plan : nullptr;
}

bool FastChecker::planned(Event event) const {
  if (impl_->schemas == nullptr) return true;
  try {
    return impl_->plan_of(event) != nullptr;
  } catch (...) {
    return false;
  }
}

std::optional<Envelope> FastChecker::check(std::string_view body, bool keep_message) const {
  if (body.size() > max_fast_body) return std::nullopt;
  // Whatever goes wrong here (no memory), the slow path answers.
  try {
    return impl_->check(body, keep_message);
  } catch (...) {
    return std::nullopt;
  }
}

std::optional<Envelope> FastChecker::Impl::check(std::string_view body, bool keep_message) const {
  simdjson::dom::parser* parser = thread_parser();
  if (parser == nullptr) return std::nullopt;
  // simdjson reads past the end of its input, so it copies the body into a padded buffer of
  // its own (kept by the parser); bodies are never padded here.
  element root;
  if (parser->parse(body.data(), body.size(), true).get(root) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  simdjson::dom::object document;
  if (root.get_object().get(document) != simdjson::SUCCESS) return std::nullopt;
  if (!names_unique(document)) return std::nullopt;

  std::optional<element> event_value;
  std::optional<element> message_value;
  std::optional<element> timestamp_value;
  for (const auto field : document) {
    if (field.key == event_member) {
      event_value = field.value;
    } else if (field.key == message_member) {
      message_value = field.value;
    } else if (field.key == timestamp_member) {
      timestamp_value = field.value;
    } else if (!all_names_unique(field.value, member_depth)) {
      return std::nullopt;
    }
  }
  if (!event_value || !message_value || !timestamp_value) return std::nullopt;
  std::string_view event_name;
  std::string_view timestamp_text;
  if (event_value->get_string().get(event_name) != simdjson::SUCCESS ||
      timestamp_value->get_string().get(timestamp_text) != simdjson::SUCCESS ||
      message_value->type() != element_type::OBJECT) {
    return std::nullopt;
  }

  auto timestamp = parse_rfc3339(timestamp_text);
  if (!timestamp) return std::nullopt;
  const std::optional<Event> event = parse_event(event_name);
  if (!event && !allow_unknown_events) return std::nullopt;
  const Plan* plan = nullptr;
  if (schemas != nullptr && event) {
    plan = plan_of(*event);
    if (plan == nullptr) return std::nullopt;
  }

  MessageBuilder builder(plan);
  json message;
  if (!builder.build(*message_value, keep_message ? &message : nullptr, member_depth,
                     plan == nullptr ? nullptr : &plan->rules.front())) {
    return std::nullopt;
  }
  if (builder.saw_zero && may_have_negative_zero(body)) return std::nullopt;

  return Envelope{.event_name = std::string(event_name),
                  .event = event,
                  .message = std::move(message),
                  .timestamp_text = std::string(timestamp_text),
                  .timestamp = *timestamp};
}

}  // namespace tykhook::detail
