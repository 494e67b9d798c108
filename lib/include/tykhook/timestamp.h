#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "tykhook/error.h"

namespace tykhook {

/// A point in time in nanoseconds since the Unix epoch (UTC). It covers the years 1678 to
/// 2261; times outside that range (Go's zero time 0001-01-01T00:00:00Z among them) saturate
/// to TimePoint::min() or TimePoint::max().
using TimePoint = std::chrono::sys_time<std::chrono::nanoseconds>;

/// The reference clock of the verifier.
using Clock = std::chrono::system_clock;

/// Parses a Go RFC 3339 time (upper-case `T` and `Z`, seconds 00-59, 0-9 fraction digits,
/// `Z` or `±hh:mm`). On failure the error names the byte, e.g. "byte 11: hour 24 is out of range".
[[nodiscard]] Parsed<TimePoint> parse_rfc3339(std::string_view text);

/// Formats `t` as Go's time.RFC3339Nano in UTC (trailing fraction zeros dropped, `Z`).
[[nodiscard]] std::string format_rfc3339(TimePoint t);

/// Formats `t` in UTC with exactly `fraction_digits` (0 to 9) fraction digits, cut, not
/// rounded: `2024-04-24T15:26:04.329Z` for 3. Any TimePoint formats without overflow;
/// other digit counts are misuse (std::invalid_argument).
[[nodiscard]] std::string format_rfc3339(TimePoint t, int fraction_digits);

/// Returns |a - b| in nanoseconds, exact for any two TimePoints: the distance between min() and
/// max() needs 64 bits without a sign, so neither a signed subtraction nor a duration holds it.
[[nodiscard]] std::uint64_t nanoseconds_between(TimePoint a, TimePoint b);

/// Returns true when |now - t| <= tolerance (DESIGN: "further than the tolerance" is strict).
/// Any two TimePoints are compared without overflow.
[[nodiscard]] bool within_tolerance(TimePoint t, TimePoint now, std::chrono::nanoseconds tolerance);

/// Formats a length of time for people, in the units d, h, m, s and ms, largest first and at
/// most `units` of them from the largest one present (`3d 4h`, `22m 58s`, `250ms`, `0s`); the
/// rest is cut, not rounded. `units` of 5 gives every unit, exact to the millisecond.
[[nodiscard]] std::string format_duration(std::uint64_t nanoseconds, int units = 2);

/// Parses a duration: an integer with a unit `ms`, `s`, `m`, `h` or `d`; a bare integer is
/// seconds. The error says what was expected, e.g. "\"5x\": unknown unit \"x\"; use ms, s, m,
/// h or d".
[[nodiscard]] Parsed<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace tykhook
