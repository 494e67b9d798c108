#include "tykhook/timestamp.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using tykhook::format_duration;
using tykhook::format_rfc3339;
using tykhook::nanoseconds_between;
using tykhook::parse_duration;
using tykhook::parse_rfc3339;
using tykhook::TimePoint;
using tykhook::within_tolerance;

TimePoint at_ns(std::int64_t count) { return TimePoint(nanoseconds(count)); }

// Nanoseconds since the epoch of a text that must parse.
std::int64_t ns_of(std::string_view text) {
  const auto parsed = parse_rfc3339(text);
  CAPTURE(text);
  CAPTURE(parsed.error);
  REQUIRE(parsed.ok());
  return parsed->time_since_epoch().count();
}

constexpr std::int64_t ns_min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t ns_max = std::numeric_limits<std::int64_t>::max();

}  // namespace

TEST_CASE("the portal's two sample timestamps parse to their exact nanosecond") {
  CHECK(ns_of("2024-04-24T15:26:04.329072196Z") == 1'713'972'364'329'072'196);
  CHECK(ns_of("2024-04-22T16:38:54.082037+02:00") == 1'713'796'734'082'037'000);
}

TEST_CASE("0 to 9 fraction digits are read as a decimal fraction of a second") {
  const struct {
    std::string_view text;
    std::int64_t nanos;
  } cases[] = {
      {"1970-01-01T00:00:00Z", 0},
      {"1970-01-01T00:00:00.1Z", 100'000'000},
      {"1970-01-01T00:00:00.12Z", 120'000'000},
      {"1970-01-01T00:00:00.123Z", 123'000'000},
      {"1970-01-01T00:00:00.1234Z", 123'400'000},
      {"1970-01-01T00:00:00.12345Z", 123'450'000},
      {"1970-01-01T00:00:00.123456Z", 123'456'000},
      {"1970-01-01T00:00:00.1234567Z", 123'456'700},
      {"1970-01-01T00:00:00.12345678Z", 123'456'780},
      {"1970-01-01T00:00:00.123456789Z", 123'456'789},
      {"1970-01-01T00:00:00.000000001Z", 1},
      {"1970-01-01T00:00:00.000000000Z", 0},
      {"1970-01-01T00:00:00.5+00:00", 500'000'000},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    CHECK(ns_of(c.text) == c.nanos);
  }
}

TEST_CASE("zone offsets move the time to UTC") {
  const struct {
    std::string_view text;
    std::string_view utc;
  } cases[] = {
      {"2024-01-01T12:00:00+02:00", "2024-01-01T10:00:00Z"},
      {"2024-01-01T12:00:00-07:30", "2024-01-01T19:30:00Z"},
      {"2024-01-01T12:00:00Z", "2024-01-01T12:00:00Z"},
      {"2024-01-01T12:00:00+00:00", "2024-01-01T12:00:00Z"},
      {"2024-01-01T12:00:00-00:00", "2024-01-01T12:00:00Z"},
      {"2024-01-01T01:00:00+02:00", "2023-12-31T23:00:00Z"},
      {"2023-12-31T23:00:00-23:59", "2024-01-01T22:59:00Z"},
      {"2024-03-01T00:30:00+01:00", "2024-02-29T23:30:00Z"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    CHECK(ns_of(c.text) == ns_of(c.utc));
  }
  CHECK(ns_of("2024-01-01T12:00:00+02:00") == 1'704'103'200'000'000'000);
  CHECK(ns_of("2024-01-01T12:00:00-07:30") == 1'704'137'400'000'000'000);
}

TEST_CASE("times outside 1677 to 2262 saturate, Go's zero time among them") {
  CHECK(parse_rfc3339("0001-01-01T00:00:00Z").value == TimePoint::min());
  CHECK(parse_rfc3339("0000-01-01T00:00:00Z").value == TimePoint::min());
  CHECK(parse_rfc3339("1000-06-15T12:00:00.5-07:00").value == TimePoint::min());
  CHECK(parse_rfc3339("9999-12-31T23:59:59.999999999Z").value == TimePoint::max());
  CHECK(parse_rfc3339("2300-01-01T00:00:00+23:59").value == TimePoint::max());

  // The edges of the range: min() and max() themselves, and one nanosecond beyond each.
  CHECK(ns_of("1677-09-21T00:12:43.145224192Z") == ns_min);
  CHECK(ns_of("1677-09-21T00:12:43.145224193Z") == ns_min + 1);
  CHECK(ns_of("1677-09-21T00:12:43.145224191Z") == ns_min);
  CHECK(ns_of("1677-09-21T00:12:42Z") == ns_min);
  CHECK(ns_of("2262-04-11T23:47:16.854775807Z") == ns_max);
  CHECK(ns_of("2262-04-11T23:47:16.854775806Z") == ns_max - 1);
  CHECK(ns_of("2262-04-11T23:47:16.854775808Z") == ns_max);
  CHECK(ns_of("2262-04-11T23:47:17Z") == ns_max);
  CHECK(ns_of("1969-12-31T23:59:59.999999999Z") == -1);
}

TEST_CASE("February 29 exists in leap years only") {
  CHECK(ns_of("2024-02-29T12:00:00Z") == 1'709'208'000'000'000'000);
  CHECK(parse_rfc3339("2000-02-29T00:00:00Z").ok());
  CHECK(parse_rfc3339("2024-04-30T00:00:00Z").ok());
  CHECK(parse_rfc3339("2024-12-31T23:59:59Z").ok());

  const struct {
    std::string_view text;
    std::string_view error;
  } cases[] = {
      {"2023-02-29T00:00:00Z",
       "byte 8: day 29 is out of range 01-28 for 2023-02; use a day that exists in that month"},
      {"1900-02-29T00:00:00Z", "byte 8: day 29 is out of range 01-28 for 1900-02"},
      {"2024-02-30T00:00:00Z", "byte 8: day 30 is out of range 01-29 for 2024-02"},
      {"2024-04-31T00:00:00Z", "byte 8: day 31 is out of range 01-30 for 2024-04"},
  };
  for (const auto& c : cases) {
    const auto parsed = parse_rfc3339(c.text);
    CAPTURE(c.text);
    CAPTURE(parsed.error);
    CHECK_FALSE(parsed.ok());
    CHECK(parsed.error.find(c.error) == 0);
  }
}

TEST_CASE("every malformed time is refused with the byte and the problem") {
  const struct {
    std::string_view name;
    std::string_view text;
    std::string_view error;
  } cases[] = {
      {"empty string", "", "byte 0: the time is empty; write YYYY-MM-DDTHH:MM:SS"},
      {"month 13", "2024-13-01T00:00:00Z", "byte 5: month 13 is out of range 01-12"},
      {"month 00", "2024-00-01T00:00:00Z", "byte 5: month 00 is out of range 01-12"},
      {"day 32", "2024-01-32T00:00:00Z", "byte 8: day 32 is out of range 01-31 for 2024-01"},
      {"day 00", "2024-01-00T00:00:00Z", "byte 8: day 00 is out of range 01-31"},
      {"hour 24", "2024-01-01T24:00:00Z", "byte 11: hour 24 is out of range 00-23"},
      {"minute 60", "2024-01-01T00:60:00Z", "byte 14: minute 60 is out of range 00-59"},
      {"second 60", "2016-12-31T23:59:60Z",
       "byte 17: second 60 is out of range 00-59; leap seconds are not accepted"},
      {"second 99", "2024-01-01T00:00:99Z", "byte 17: second 99 is out of range 00-59"},
      {"lower-case t", "2024-01-01t00:00:00Z",
       "byte 10: expected 'T' between the date and the time, got lower-case 't'; use upper-case T"},
      {"space instead of T", "2024-01-01 00:00:00Z",
       "byte 10: expected 'T' between the date and the time, got a space; use T"},
      {"lower-case z", "2024-01-01T00:00:00z",
       "byte 19: expected the time zone, got lower-case 'z'; use upper-case Z"},
      {"missing zone", "2024-01-01T00:00:00", "byte 19: missing time zone; end with Z or ±hh:mm"},
      {"missing zone after a fraction", "2024-01-01T00:00:00.5",
       "byte 21: missing time zone; end with Z or ±hh:mm"},
      {"10 fraction digits", "2024-01-01T00:00:00.1234567890Z",
       "byte 29: more than 9 fraction digits"},
      {"a lone dot", "2024-01-01T00:00:00.Z",
       "byte 20: expected a digit after '.'; write 1 to 9 fraction digits, or drop the dot"},
      {"a lone dot at the end", "2024-01-01T00:00:00.", "byte 20: expected a digit after '.'"},
      {"comma fraction", "2024-01-01T00:00:00,5Z", "byte 19: expected the time zone"},
      {"trailing bytes", "2024-01-01T00:00:00Zjunk",
       "byte 20: unexpected bytes after the time zone"},
      {"trailing line break", "2024-01-01T00:00:00+02:00\n",
       "byte 25: unexpected bytes after the time zone"},
      {"+0200", "2024-01-01T00:00:00+0200",
       "byte 22: expected ':' in the zone offset; write ±hh:mm, e.g. +02:00"},
      {"+02", "2024-01-01T00:00:00+02", "byte 22: expected ':' in the zone offset"},
      {"+02:0", "2024-01-01T00:00:00+02:0", "byte 24: the time ends inside the zone offset minute"},
      {"offset hour 24", "2024-01-01T00:00:00+24:00",
       "byte 20: zone offset hour 24 is out of range 00-23"},
      {"offset minute 60", "2024-01-01T00:00:00-01:60",
       "byte 23: zone offset minute 60 is out of range 00-59"},
      {"leading space", " 2024-01-01T00:00:00Z", "byte 0: expected a digit of the year"},
      {"two-digit year", "24-01-01T00:00:00Z", "byte 2: expected a digit of the year"},
      {"one-digit month", "2024-1-01T00:00:00Z", "byte 6: expected a digit of the month"},
      {"one-digit hour", "2024-01-01T1:00:00Z", "byte 12: expected a digit of the hour"},
      {"slashes", "2024/01/01T00:00:00Z", "byte 4: expected '-' after the year"},
      {"date only", "2024-01-01", "byte 10: the time ends before the 'T'"},
      {"no seconds", "2024-01-01T00:00Z", "byte 16: expected ':' after the minute"},
      {"cut inside the seconds", "2024-01-01T00:00:0", "byte 18: the time ends inside the second"},
  };
  for (const auto& c : cases) {
    const auto parsed = parse_rfc3339(c.text);
    CAPTURE(c.name);
    CAPTURE(parsed.error);
    CHECK_FALSE(parsed.ok());
    CHECK(parsed.error.find(c.error) == 0);
  }
}

TEST_CASE("formatting gives Go's RFC3339Nano in UTC and round-trips UTC inputs") {
  const std::string_view utc_inputs[] = {
      "2024-04-24T15:26:04.329072196Z", "2024-04-24T15:26:04Z",
      "2024-04-24T15:26:04.5Z",         "2024-04-24T15:26:04.05Z",
      "2024-04-24T15:26:04.000000001Z", "1970-01-01T00:00:00Z",
      "1969-12-31T23:59:59.999999999Z", "1900-01-01T00:00:00Z",
      "2024-02-29T23:59:59Z",           "0001-01-01T00:00:00Z",
      "1677-09-21T00:12:43.145224193Z", "2262-04-11T23:47:16.854775807Z",
  };
  for (const std::string_view text : utc_inputs) {
    CAPTURE(text);
    const auto parsed = parse_rfc3339(text);
    REQUIRE(parsed.ok());
    CHECK(format_rfc3339(*parsed) == text);
  }

  const struct {
    std::string_view text;
    std::string_view formatted;
  } normalised[] = {
      {"2024-04-22T16:38:54.082037+02:00", "2024-04-22T14:38:54.082037Z"},
      {"2024-04-24T15:26:04.100Z", "2024-04-24T15:26:04.1Z"},
      {"2024-04-24T15:26:04.000000000Z", "2024-04-24T15:26:04Z"},
      {"2024-01-01T00:00:00-07:30", "2024-01-01T07:30:00Z"},
      {"1000-01-01T00:00:00Z", "0001-01-01T00:00:00Z"},
  };
  for (const auto& c : normalised) {
    CAPTURE(c.text);
    const auto parsed = parse_rfc3339(c.text);
    REQUIRE(parsed.ok());
    CHECK(format_rfc3339(*parsed) == c.formatted);
  }

  CHECK(format_rfc3339(TimePoint::min()) == "0001-01-01T00:00:00Z");
  CHECK(format_rfc3339(TimePoint::max()) == "2262-04-11T23:47:16.854775807Z");
  CHECK(format_rfc3339(at_ns(ns_min + 1)) == "1677-09-21T00:12:43.145224193Z");
  CHECK(format_rfc3339(at_ns(-1)) == "1969-12-31T23:59:59.999999999Z");
}

TEST_CASE("formatting with a fixed number of fraction digits cuts, pads, and spans the range") {
  const TimePoint t = at_ns(1'713'972'364'329'072'196);
  CHECK(format_rfc3339(t, 0) == "2024-04-24T15:26:04Z");
  CHECK(format_rfc3339(t, 3) == "2024-04-24T15:26:04.329Z");
  CHECK(format_rfc3339(t, 9) == "2024-04-24T15:26:04.329072196Z");
  CHECK(format_rfc3339(at_ns(1'713'972'364'000'000'000), 3) == "2024-04-24T15:26:04.000Z");
  CHECK(format_rfc3339(TimePoint::min(), 3) == "0001-01-01T00:00:00.000Z");
  CHECK(format_rfc3339(TimePoint::max(), 3) == "2262-04-11T23:47:16.854Z");
  CHECK(format_rfc3339(at_ns(ns_min + 1), 9) == "1677-09-21T00:12:43.145224193Z");
  CHECK(format_rfc3339(at_ns(-1), 3) == "1969-12-31T23:59:59.999Z");
  CHECK_THROWS_WITH_AS((void)format_rfc3339(t, 10),
                       "tykhook::format_rfc3339: fraction_digits 10 is not in 0 to 9",
                       std::invalid_argument);
  CHECK_THROWS_AS((void)format_rfc3339(t, -1), std::invalid_argument);
}

TEST_CASE("a time exactly at the tolerance passes and one nanosecond more is stale") {
  const TimePoint now = at_ns(1'713'972'364'329'072'196);
  const nanoseconds tolerance = minutes(5);
  const struct {
    std::string_view name;
    TimePoint t;
    bool within;
  } cases[] = {
      {"same instant", now, true},
      {"past, at the bound", now - tolerance, true},
      {"future, at the bound", now + tolerance, true},
      {"past, one ns over", now - tolerance - nanoseconds(1), false},
      {"future, one ns over", now + tolerance + nanoseconds(1), false},
      {"past, one ns inside", now - tolerance + nanoseconds(1), true},
      {"future, one ns inside", now + tolerance - nanoseconds(1), true},
      {"min() against now", TimePoint::min(), false},
      {"max() against now", TimePoint::max(), false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(within_tolerance(c.t, now, tolerance) == c.within);
  }
}

TEST_CASE("the tolerance check does not overflow at min() and max()") {
  const TimePoint min = TimePoint::min();
  const TimePoint max = TimePoint::max();
  const nanoseconds huge = nanoseconds::max();
  const struct {
    std::string_view name;
    TimePoint t;
    TimePoint now;
    nanoseconds tolerance;
    bool within;
  } cases[] = {
      {"min() and max(), largest tolerance", min, max, huge, false},
      {"max() and min(), largest tolerance", max, min, huge, false},
      {"min() and -1, largest tolerance", min, at_ns(-1), huge, true},
      {"min() and 0, largest tolerance", min, at_ns(0), huge, false},
      {"max() and 0, largest tolerance", max, at_ns(0), huge, true},
      {"0 and max(), largest tolerance", at_ns(0), max, huge, true},
      {"min() and min(), zero tolerance", min, min, nanoseconds(0), true},
      {"max() and max(), zero tolerance", max, max, nanoseconds(0), true},
      {"min() and min()+1, zero tolerance", min, min + nanoseconds(1), nanoseconds(0), false},
      {"max() and max()-1, one ns", max, max - nanoseconds(1), nanoseconds(1), true},
      {"negative tolerance", at_ns(0), at_ns(0), nanoseconds(-1), false},
      {"zero tolerance, same instant", at_ns(5), at_ns(5), nanoseconds(0), true},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(within_tolerance(c.t, c.now, c.tolerance) == c.within);
  }
}

TEST_CASE("the distance between two times is exact across the whole range (fuzz: verifier)") {
  const TimePoint min = TimePoint::min();
  const TimePoint max = TimePoint::max();
  constexpr std::uint64_t u64_max = std::numeric_limits<std::uint64_t>::max();
  constexpr auto u_max = static_cast<std::uint64_t>(ns_max);
  const struct {
    std::string_view name;
    TimePoint a;
    TimePoint b;
    std::uint64_t want;
  } cases[] = {
      {"min() to max()", min, max, u64_max},
      {"max() to min()", max, min, u64_max},
      {"min() to 0", min, at_ns(0), u_max + 1},
      {"0 to max()", at_ns(0), max, u_max},
      {"min() to -1", min, at_ns(-1), u_max},
      {"same instant", at_ns(7), at_ns(7), 0},
      {"one ns apart", at_ns(-1), at_ns(0), 1},
      // The input CI's fuzzing found: a Timestamp in 1694 against a now in 2024 are further
      // apart than a signed 64-bit count of nanoseconds holds.
      {"1694 to 2024", at_ns(-8'699'995'265'917'963'000), at_ns(1'713'972'364'000'000'000),
       10'413'967'629'917'963'000u},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(nanoseconds_between(c.a, c.b) == c.want);
  }
}

TEST_CASE("lengths of time read as the two largest units, or exactly when asked") {
  const struct {
    std::uint64_t ns;
    int units;
    std::string_view want;
  } cases[] = {
      {0, 2, "0s"},
      {999'999, 2, "under 1ms"},
      {1'000'000, 2, "1ms"},
      {250'000'000, 2, "250ms"},
      {5'000'000'000, 2, "5s"},
      {5'250'000'000, 2, "5s 250ms"},
      {(22 * 60 + 58) * 1'000'000'000ull, 2, "22m 58s"},
      {3 * 86'400'000'000'000ull, 2, "3d"},
      {(3 * 86'400 + 4 * 3'600 + 59) * 1'000'000'000ull, 2, "3d 4h"},
      {(3'600 + 5) * 1'000'000'000ull, 2, "1h"},
      {(3'600 + 5) * 1'000'000'000ull, 5, "1h 5s"},
      {(86'400 + 1) * 1'000'000'000ull + 1'000'000, 5, "1d 1s 1ms"},
      {300'000'000'000, 1, "5m"},
      {std::numeric_limits<std::uint64_t>::max(), 2, "213503d 23h"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.ns);
    CAPTURE(c.units);
    CHECK(format_duration(c.ns, c.units) == c.want);
  }
}

TEST_CASE("durations take an integer and a unit ms, s, m, h or d") {
  const struct {
    std::string_view text;
    milliseconds want;
  } good[] = {
      {"300s", seconds(300)},
      {"5m", minutes(5)},
      {"1h", hours(1)},
      {"250ms", milliseconds(250)},
      {"300", seconds(300)},
      {"0", milliseconds(0)},
      {"0s", milliseconds(0)},
      {"007m", minutes(7)},
      {"9223372036854ms", milliseconds(9'223'372'036'854)},
      {"9223372036s", seconds(9'223'372'036)},
      {"153722867m", minutes(153'722'867)},
      {"2562047h", hours(2'562'047)},
      {"3d", hours(72)},
      {"106751d", hours(106'751 * 24)},
  };
  for (const auto& c : good) {
    const auto parsed = parse_duration(c.text);
    CAPTURE(c.text);
    CAPTURE(parsed.error);
    REQUIRE(parsed.ok());
    CHECK(parsed->count() == c.want.count());
    // Every accepted duration fits the nanoseconds that within_tolerance takes.
    CHECK(*parsed <= std::chrono::duration_cast<milliseconds>(nanoseconds::max()));
  }

  const struct {
    std::string_view text;
    std::string_view error;
  } bad[] = {
      {"5x", "\"5x\": unknown unit \"x\"; use ms, s, m, h or d (e.g. 300s, 5m)"},
      {"5sec", "\"5sec\": unknown unit \"sec\""},
      {"5S", "\"5S\": unknown unit \"S\""},
      {"5us", "\"5us\": unknown unit \"us\""},
      {"1D", "\"1D\": unknown unit \"D\""},
      {"1w", "\"1w\": unknown unit \"w\""},
      {"106752d", "\"106752d\": too large; the largest is 106751d"},
      {"5m30s", "\"5m30s\": unknown unit \"m30s\""},
      {"", "\"\": empty duration; use an integer with a unit ms, s, m, h or d (e.g. 300s, 5m)"},
      {"-5s", "\"-5s\": negative duration"},
      {"+5s", "\"+5s\": missing number"},
      {"s", "\"s\": missing number"},
      {"ms", "\"ms\": missing number"},
      {"1.5s", "\"1.5s\": fractions are not allowed; use a smaller unit (e.g. 1500ms)"},
      {"1,5s", "\"1,5s\": fractions are not allowed"},
      {"5 m", "\"5 m\": white space is not allowed"},
      {" 5m", "\" 5m\": white space is not allowed"},
      {"5m ", "\"5m \": white space is not allowed"},
      {"99999999999999999999h", "\"99999999999999999999h\": too large; the largest is 2562047h"},
      {"2562048h", "\"2562048h\": too large; the largest is 2562047h"},
      {"153722868m", "\"153722868m\": too large; the largest is 153722867m"},
      {"9223372036855ms", "\"9223372036855ms\": too large; the largest is 9223372036854ms"},
      {"9223372037", "\"9223372037\": too large; the largest is 9223372036s"},
      {"99999999999999999999", "\"99999999999999999999\": too large"},
  };
  for (const auto& c : bad) {
    const auto parsed = parse_duration(c.text);
    CAPTURE(c.text);
    CAPTURE(parsed.error);
    CHECK_FALSE(parsed.ok());
    CHECK(parsed.error.find(c.error) == 0);
  }
  CHECK(std::size(bad) >= std::size(good));
}
