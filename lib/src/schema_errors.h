#pragma once

// The wording of schema errors: valijson's results and tykhook's own checks become
// "<JSON pointer>: <what was expected>, got <value>" lines (schema.h), worded from the schema
// where valijson's own sentence says less.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <valijson/validation_results.hpp>
#include <vector>

namespace tykhook::detail {

/// Errors name a place in the body, so every pointer starts at the Message (schema.h).
inline constexpr std::string_view message_pointer = "/Message";

/// A value as it appears in an error: JSON text, long strings and containers cut short.
/// Invalid UTF-8 (possible in a json built by hand) is replaced rather than thrown on.
[[nodiscard]] std::string quoted(const nlohmann::json& value);

/// Turns valijson's results for `message`, checked against the schema document `root`, into
/// "<pointer>: <expected>" lines, without the ones that repeat or wrap another.
[[nodiscard]] std::vector<std::string> describe_all(const nlohmann::json& root,
                                                    const nlohmann::json& message,
                                                    const valijson::ValidationResults& results);

/// `text` with its first letter in lower case, as messages go on after a colon.
[[nodiscard]] std::string lower_first(std::string text);

}  // namespace tykhook::detail
