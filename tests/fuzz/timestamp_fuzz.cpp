// Fuzz target: parse_rfc3339 on any text. A time that parses, and is inside the range of
// TimePoint, formats as Go's RFC3339Nano and parses back to the same nanosecond; the
// tolerance check is symmetric whatever the two times.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_checks.h"
#include "tykhook/timestamp.h"

namespace {

using tykhook::TimePoint;
using tykhook::fuzz::require;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = tykhook::fuzz::bytes_of(data, size);
  const auto parsed = tykhook::parse_rfc3339(text);
  if (!parsed) {
    tykhook::fuzz::require_message(parsed.error, "parse_rfc3339");
    require(parsed.error.starts_with("byte "), "a time error names the byte");
    return 0;
  }
  // Go's layout is 20 to 35 bytes long; anything else must have been refused.
  require(size >= 20 && size <= 35, "a parsed time has the layout's length");
  const TimePoint time = *parsed;
  const std::string formatted = tykhook::format_rfc3339(time);
  require(formatted.size() >= 20 && formatted.size() <= 30 && formatted.back() == 'Z',
          "a formatted time is Go's RFC3339Nano in UTC");
  const auto again = tykhook::parse_rfc3339(formatted);
  require(again.ok(), "a formatted time parses: " + formatted);
  if (time != TimePoint::min()) {
    require(*again == time, "a time survives format and parse: " + formatted);
  } else {
    require(formatted == "0001-01-01T00:00:00Z", "min() formats as Go's zero time");
  }

  const TimePoint now{std::chrono::seconds(1713972364)};
  for (const auto tolerance :
       {std::chrono::nanoseconds(0), std::chrono::nanoseconds(300'000'000'000),
        std::chrono::nanoseconds::max()}) {
    require(tykhook::within_tolerance(time, now, tolerance) ==
                tykhook::within_tolerance(now, time, tolerance),
            "the tolerance check is symmetric");
  }
  require(tykhook::within_tolerance(time, time, std::chrono::nanoseconds(0)),
          "a time is within no tolerance of itself");
  return 0;
}
