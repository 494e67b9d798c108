#include "tykhook/timestamp.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <utility>

namespace tykhook {
namespace {

using std::chrono::days;
using std::chrono::nanoseconds;
using std::chrono::sys_days;
using std::chrono::year_month_day;

constexpr std::int64_t ns_per_second = 1'000'000'000;
constexpr std::int64_t seconds_per_day = 86'400;

// TimePoint holds nanoseconds in an int64_t. With floor division, the representable range in
// whole seconds and the nanoseconds allowed within the first and the last of those seconds:
// -9223372037 s + 145224192 ns (1677-09-21T00:12:43.145224192Z) to
// 9223372036 s + 854775807 ns (2262-04-11T23:47:16.854775807Z).
constexpr std::int64_t ns_min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t ns_max = std::numeric_limits<std::int64_t>::max();
static_assert(ns_min % ns_per_second != 0, "the first second below is a floor division");
constexpr std::int64_t first_second = ns_min / ns_per_second - 1;
constexpr std::int64_t first_second_ns = ns_min % ns_per_second + ns_per_second;
constexpr std::int64_t last_second = ns_max / ns_per_second;
constexpr std::int64_t last_second_ns = ns_max % ns_per_second;

// `seconds` since the epoch plus `nanos` in [0, 1e9), saturated to the range of TimePoint.
// The range checks come before any multiplication, so nothing overflows.
TimePoint saturating_time_point(std::int64_t seconds, std::int64_t nanos) {
  if (seconds < first_second || (seconds == first_second && nanos < first_second_ns)) {
    return TimePoint::min();
  }
  if (seconds > last_second || (seconds == last_second && nanos > last_second_ns)) {
    return TimePoint::max();
  }
  // (seconds + 1) * 1e9 fits even for the first second, whose own product would not.
  if (seconds < 0) {
    return TimePoint(nanoseconds((seconds + 1) * ns_per_second - (ns_per_second - nanos)));
  }
  return TimePoint(nanoseconds(seconds * ns_per_second + nanos));
}

// Division rounding down, for a positive divisor: times before the epoch are negative.
std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - (a % b < 0 ? 1 : 0); }
// Its remainder, in [0, b); computed without multiplying back, which could overflow near min().
std::int64_t floor_mod(std::int64_t a, std::int64_t b) { return a % b + (a % b < 0 ? b : 0); }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string at_byte(std::size_t offset) { return "byte " + std::to_string(offset) + ": "; }

// The layout every message points to, as Go writes it.
constexpr std::string_view layout_hint = "write YYYY-MM-DDTHH:MM:SS[.fraction] and Z or ±hh:mm";

Parsed<TimePoint> time_failure(std::size_t offset, std::string_view what, std::string_view fix) {
  std::string message = at_byte(offset);
  message += what;
  message += "; ";
  message += fix;
  return Parsed<TimePoint>::failure(std::move(message));
}

std::string two_digits(int value) {
  return std::string{static_cast<char>('0' + value / 10), static_cast<char>('0' + value % 10)};
}

// One fixed-width number of the layout (Go's RFC 3339 fields are all zero-padded).
struct Field {
  std::string_view name;  // "month"
  std::size_t offset;     // where it starts in the text
  std::size_t width;      // how many digits
  int low;                // its range
  int high;
};

// Reads `field` from `text`: the number, or a message naming the first byte that is wrong.
Parsed<int> read_field(std::string_view text, const Field& field) {
  int value = 0;
  for (std::size_t i = field.offset; i < field.offset + field.width; ++i) {
    if (i >= text.size()) {
      return Parsed<int>::failure(at_byte(i) + "the time ends inside the " +
                                  std::string(field.name) + "; " + std::string(layout_hint));
    }
    if (!is_digit(text[i])) {
      return Parsed<int>::failure(at_byte(i) + "expected a digit of the " +
                                  std::string(field.name) + "; " + std::string(layout_hint));
    }
    value = value * 10 + (text[i] - '0');
  }
  if (value < field.low || value > field.high) {
    const bool two = field.width == 2;
    return Parsed<int>::failure(at_byte(field.offset) + std::string(field.name) + " " +
                                (two ? two_digits(value) : std::to_string(value)) +
                                " is out of range " + two_digits(field.low) + "-" +
                                two_digits(field.high));
  }
  return Parsed<int>{value, {}};
}

// Checks the separator `want` at `offset`; `between` says where it sits ("after the year").
std::optional<std::string> expect_separator(std::string_view text, std::size_t offset, char want,
                                            std::string_view between) {
  const std::string quoted{'\'', want, '\''};
  if (offset >= text.size()) {
    return at_byte(offset) + "the time ends before the " + quoted + " " + std::string(between) +
           "; " + std::string(layout_hint);
  }
  if (text[offset] == want) return std::nullopt;
  std::string message = at_byte(offset) + "expected " + quoted + " " + std::string(between);
  if (want == 'T' && text[offset] == 't') return message + ", got lower-case 't'; use upper-case T";
  if (want == 'T' && text[offset] == ' ') return message + ", got a space; use T";
  return message + "; " + std::string(layout_hint);
}

}  // namespace

// Follows Go's time.Parse(time.RFC3339, ...) in the strict form of DESIGN.md "Details":
// YYYY-MM-DDTHH:MM:SS[.F{1,9}](Z|+hh:mm|-hh:mm), nothing before or after.
Parsed<TimePoint> parse_rfc3339(std::string_view text) {
  if (text.empty()) return time_failure(0, "the time is empty", layout_hint);

  const auto year = read_field(text, {"year", 0, 4, 0, 9999});
  if (!year) return Parsed<TimePoint>::failure(year.error);
  if (auto error = expect_separator(text, 4, '-', "after the year")) {
    return Parsed<TimePoint>::failure(std::move(*error));
  }
  const auto month = read_field(text, {"month", 5, 2, 1, 12});
  if (!month) return Parsed<TimePoint>::failure(month.error);
  if (auto error = expect_separator(text, 7, '-', "after the month")) {
    return Parsed<TimePoint>::failure(std::move(*error));
  }
  const std::chrono::year_month year_month{std::chrono::year{*year},
                                           std::chrono::month{static_cast<unsigned>(*month)}};
  const auto last_day =
      static_cast<int>(static_cast<unsigned>(year_month_day{year_month / std::chrono::last}.day()));
  const auto day = read_field(text, {"day", 8, 2, 1, last_day});
  if (!day) {
    // Name the month whose length ruled the day out, so 2023-02-29 explains itself.
    const bool out_of_range = text.size() >= 10 && is_digit(text[8]) && is_digit(text[9]);
    if (!out_of_range) return Parsed<TimePoint>::failure(day.error);
    return Parsed<TimePoint>::failure(day.error + " for " + std::string(text.substr(0, 7)) +
                                      "; use a day that exists in that month");
  }
  if (auto error = expect_separator(text, 10, 'T', "between the date and the time")) {
    return Parsed<TimePoint>::failure(std::move(*error));
  }
  const auto hour = read_field(text, {"hour", 11, 2, 0, 23});
  if (!hour) return Parsed<TimePoint>::failure(hour.error);
  if (auto error = expect_separator(text, 13, ':', "after the hour")) {
    return Parsed<TimePoint>::failure(std::move(*error));
  }
  const auto minute = read_field(text, {"minute", 14, 2, 0, 59});
  if (!minute) return Parsed<TimePoint>::failure(minute.error);
  if (auto error = expect_separator(text, 16, ':', "after the minute")) {
    return Parsed<TimePoint>::failure(std::move(*error));
  }
  const auto second = read_field(text, {"second", 17, 2, 0, 59});
  if (!second) {
    // Go's parser refuses leap seconds too; say so, since 60 is a real UTC second.
    const bool leap = text.substr(17, 2) == "60";
    return Parsed<TimePoint>::failure(second.error +
                                      (leap ? "; leap seconds are not accepted" : ""));
  }

  std::size_t offset = 19;
  std::int64_t nanos = 0;
  if (offset < text.size() && text[offset] == '.') {
    const std::size_t first_digit = offset + 1;
    std::size_t end = first_digit;
    while (end < text.size() && is_digit(text[end])) ++end;
    if (end == first_digit) {
      return time_failure(first_digit, "expected a digit after '.'",
                          "write 1 to 9 fraction digits, or drop the dot");
    }
    if (end - first_digit > 9) {
      return time_failure(first_digit + 9, "more than 9 fraction digits",
                          "nanoseconds are the finest precision; drop the extra digits");
    }
    for (std::size_t i = first_digit; i < first_digit + 9; ++i) {
      nanos = nanos * 10 + (i < end ? text[i] - '0' : 0);
    }
    offset = end;
  }

  std::int64_t zone_seconds = 0;
  if (offset >= text.size()) {
    return time_failure(offset, "missing time zone", "end with Z or ±hh:mm");
  }
  const char zone = text[offset];
  if (zone == 'Z') {
    ++offset;
  } else if (zone == '+' || zone == '-') {
    const auto zone_hour = read_field(text, {"zone offset hour", offset + 1, 2, 0, 23});
    if (!zone_hour) return Parsed<TimePoint>::failure(zone_hour.error);
    if (offset + 3 >= text.size() || text[offset + 3] != ':') {
      return time_failure(offset + 3, "expected ':' in the zone offset",
                          "write ±hh:mm, e.g. +02:00");
    }
    const auto zone_minute = read_field(text, {"zone offset minute", offset + 4, 2, 0, 59});
    if (!zone_minute) return Parsed<TimePoint>::failure(zone_minute.error);
    zone_seconds = (*zone_hour * 60 + *zone_minute) * 60;
    if (zone == '-') zone_seconds = -zone_seconds;
    offset += 6;
  } else if (zone == 'z') {
    return time_failure(offset, "expected the time zone, got lower-case 'z'", "use upper-case Z");
  } else {
    return time_failure(offset, "expected the time zone", "end with Z or ±hh:mm");
  }
  if (offset != text.size()) {
    return time_failure(offset, "unexpected bytes after the time zone",
                        "end the time with Z or ±hh:mm");
  }

  // Whole seconds first: years 0000-9999 are about ±3e11 s, far from int64_t's limits, and
  // only then is the range of TimePoint checked (see saturating_time_point).
  const year_month_day date{std::chrono::year{*year},
                            std::chrono::month{static_cast<unsigned>(*month)},
                            std::chrono::day{static_cast<unsigned>(*day)}};
  const std::int64_t day_count = sys_days{date}.time_since_epoch().count();
  const std::int64_t seconds =
      day_count * seconds_per_day + *hour * 3600 + *minute * 60 + *second - zone_seconds;
  return Parsed<TimePoint>{saturating_time_point(seconds, nanos), {}};
}

namespace {

// fraction_digits -1 is RFC3339Nano (trailing zeros dropped); 0 to 9 is that many digits.
std::string format_time(TimePoint t, int fraction_digits) {
  // TimePoint::min() stands for every time before 1677, and the only such time the portal sends
  // is Go's zero time, its "unset" (DESIGN.md). Formatting it as that zero time makes an unset
  // time round-trip; TimePoint::max() is formatted as the real time it holds.
  if (t == TimePoint::min()) {
    const int width = std::max(fraction_digits, 0);
    return "0001-01-01T00:00:00" + (width > 0 ? "." + std::string(width, '0') : "") + "Z";
  }

  // Split with floor division in int64_t: going through sys_days would overflow near min().
  const std::int64_t count = t.time_since_epoch().count();
  const std::int64_t seconds = floor_div(count, ns_per_second);
  const std::int64_t nanos = floor_mod(count, ns_per_second);
  const std::int64_t day_count = floor_div(seconds, seconds_per_day);
  const std::int64_t second_of_day = floor_mod(seconds, seconds_per_day);
  const year_month_day date{sys_days{days{day_count}}};

  std::string text;
  text.reserve(35);
  const auto put = [&text](std::int64_t value, int width) {
    char digits[4];
    for (int i = width - 1; i >= 0; --i) {
      digits[i] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
    text.append(digits, static_cast<std::size_t>(width));
  };
  put(static_cast<int>(date.year()), 4);
  text += '-';
  put(static_cast<unsigned>(date.month()), 2);
  text += '-';
  put(static_cast<unsigned>(date.day()), 2);
  text += 'T';
  put(second_of_day / 3600, 2);
  text += ':';
  put(second_of_day / 60 % 60, 2);
  text += ':';
  put(second_of_day % 60, 2);
  // RFC3339Nano: up to 9 digits with trailing zeros removed, and no dot at all for zero;
  // or the fixed number of digits asked for, the rest cut.
  std::int64_t fraction = nanos;
  int width = 9;
  if (fraction_digits < 0) {
    while (fraction != 0 && fraction % 10 == 0) {
      fraction /= 10;
      --width;
    }
    if (fraction == 0) width = 0;
  } else {
    for (; width > fraction_digits; --width) fraction /= 10;
  }
  if (width > 0) {
    text += '.';
    const std::size_t dot = text.size();
    text.append(static_cast<std::size_t>(width), '0');
    for (int i = width - 1; i >= 0; --i) {
      text[dot + static_cast<std::size_t>(i)] = static_cast<char>('0' + fraction % 10);
      fraction /= 10;
    }
  }
  text += 'Z';
  return text;
}

}  // namespace

std::string format_rfc3339(TimePoint t) { return format_time(t, -1); }

std::string format_rfc3339(TimePoint t, int fraction_digits) {
  if (fraction_digits < 0 || fraction_digits > 9) {
    throw std::invalid_argument("tykhook::format_rfc3339: fraction_digits " +
                                std::to_string(fraction_digits) + " is not in 0 to 9");
  }
  return format_time(t, fraction_digits);
}

std::uint64_t nanoseconds_between(TimePoint a, TimePoint b) {
  // The true distance is below 2^64, so unsigned subtraction of the smaller from the larger
  // gives it exactly (modulo 2^64 is exact here), even between min() and max().
  const auto a_bits = static_cast<std::uint64_t>(a.time_since_epoch().count());
  const auto b_bits = static_cast<std::uint64_t>(b.time_since_epoch().count());
  return a > b ? a_bits - b_bits : b_bits - a_bits;
}

bool within_tolerance(TimePoint t, TimePoint now, std::chrono::nanoseconds tolerance) {
  if (tolerance < nanoseconds::zero()) return false;
  return nanoseconds_between(t, now) <= static_cast<std::uint64_t>(tolerance.count());
}

std::string format_duration(std::uint64_t nanoseconds, int units) {
  constexpr std::uint64_t ns_per_ms = 1'000'000;
  const struct {
    std::uint64_t ms;
    const char* suffix;
  } scale[] = {{86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1'000, "s"}, {1, "ms"}};
  std::uint64_t rest = nanoseconds / ns_per_ms;
  if (rest == 0) return nanoseconds == 0 ? "0s" : "under 1ms";
  std::string text;
  int written = 0;
  for (const auto& unit : scale) {
    const std::uint64_t count = rest / unit.ms;
    rest %= unit.ms;
    if (written == 0 && count == 0) continue;  // before the largest unit present
    if (written == units) break;
    ++written;
    if (count == 0) continue;  // "1h 5s", not "1h 0m 5s"
    if (!text.empty()) text += ' ';
    text += std::to_string(count) + unit.suffix;
  }
  return text;
}

Parsed<std::chrono::milliseconds> parse_duration(std::string_view text) {
  using Result = Parsed<std::chrono::milliseconds>;
  constexpr std::string_view example =
      "use an integer with a unit ms, s, m, h or d (e.g. 300s, 5m)";
  const std::string where = "\"" + std::string(text) + "\": ";
  if (text.empty()) return Result::failure(where + "empty duration; " + std::string(example));
  if (text.find_first_of(" \t") != std::string_view::npos) {
    return Result::failure(where +
                           "white space is not allowed; write the number and the unit "
                           "together (e.g. 5m)");
  }
  if (text.front() == '-') {
    return Result::failure(where + "negative duration; " + std::string(example));
  }
  if (!is_digit(text.front())) {
    return Result::failure(where + "missing number; " + std::string(example));
  }

  std::size_t end = 0;
  std::uint64_t number = 0;
  bool too_large = false;
  for (; end < text.size() && is_digit(text[end]); ++end) {
    const auto digit = static_cast<std::uint64_t>(text[end] - '0');
    if (number > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) too_large = true;
    if (!too_large) number = number * 10 + digit;
  }
  const std::string_view unit = text.substr(end);
  if (!unit.empty() && (unit.front() == '.' || unit.front() == ',')) {
    return Result::failure(where + "fractions are not allowed; use a smaller unit (e.g. 1500ms)");
  }

  std::int64_t ms_per_unit = 0;
  if (unit == "ms") {
    ms_per_unit = 1;
  } else if (unit.empty() || unit == "s") {
    ms_per_unit = 1000;  // DESIGN.md: a bare integer means seconds
  } else if (unit == "m") {
    ms_per_unit = 60 * 1000;
  } else if (unit == "h") {
    ms_per_unit = 60 * 60 * 1000;
  } else if (unit == "d") {
    ms_per_unit = 24 * 60 * 60 * 1000;
  } else {
    return Result::failure(where + "unknown unit \"" + std::string(unit) +
                           "\"; use ms, s, m, h or d (e.g. 300s, 5m)");
  }

  // The cap is what fits in nanoseconds, the type every tolerance ends up in (VerifierOptions,
  // within_tolerance): about 106751 days, so a larger value is refused rather than overflowing.
  constexpr std::int64_t largest_ms = nanoseconds::max().count() / 1'000'000;
  const auto limit = static_cast<std::uint64_t>(largest_ms / ms_per_unit);
  if (too_large || number > limit) {
    return Result::failure(where + "too large; the largest is " + std::to_string(limit) +
                           (unit.empty() ? std::string("s") : std::string(unit)));
  }
  return Result{std::chrono::milliseconds(static_cast<std::int64_t>(number) * ms_per_unit), {}};
}

}  // namespace tykhook
