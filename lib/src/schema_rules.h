#pragma once

// Where tykhook's schema stage differs from plain valijson 1.0, written once. The registry
// applies these rules around valijson (schema_walk.cpp, schema_errors.cpp), and the fast path's
// plan (schema_plan.cpp, fast_check.cpp) mirrors them, so that both pass the same messages.

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "tykhook/timestamp.h"

namespace tykhook::detail {

/// True for the value of a "format" keyword that tykhook checks itself: valijson's "date-time"
/// builds a std::regex per value (about 0.65 ms), accepts forms that Go's parser rejects, and
/// has no switch to turn it off (PERF-NOTES.md).
inline bool is_date_time_format(const nlohmann::json& format) { return format == "date-time"; }

/// The check that replaces valijson's "date-time": Go's RFC 3339 parser, the one that reads
/// `Timestamp`.
inline bool is_date_time(std::string_view text) { return parse_rfc3339(text).ok(); }

/// True for an integer that valijson misreads: it reads every integer through int64_t
/// (basic_adapter.hpp), so one above INT64_MAX becomes negative.
inline bool misread_by_valijson(const nlohmann::json& value) {
  return value.is_number_unsigned() &&
         value.get<std::uint64_t>() >
             static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
}

/// A bound ("minimum" and its kind) as valijson compares with it: a double, or nullopt for
/// what is no number or an integer that valijson misreads.
inline std::optional<double> bound_as_valijson_reads(const nlohmann::json& bound) {
  if (!bound.is_number() || misread_by_valijson(bound)) return std::nullopt;
  return bound.get<double>();
}

}  // namespace tykhook::detail
