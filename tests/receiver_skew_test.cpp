// How far the Timestamps of deliveries are from their arrival (GET /metrics): the portal queues
// deliveries, so their age is counted in one histogram, and Timestamps ahead of the clock in
// another (issue 18, "Clock skew").

#include <doctest/doctest.h>
#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <string_view>

#include "receiver_metrics.h"
#include "receiver_support.h"
#include "tykhook/envelope.h"
#include "tykhook/receiver.h"
#include "tykhook/timestamp.h"

using namespace tykhook;
using namespace tykhook::receiver_test;
using namespace std::chrono_literals;

namespace {

// The value of the metric line that starts with `name` (with its labels), or -1 without one.
double metric_value(const std::string& metrics, const std::string& name) {
  const std::string line = metric_line(metrics, name);
  return line.empty() ? -1 : std::strtod(line.c_str() + name.size() + 1, nullptr);
}

std::string bucket(std::string_view histogram, std::string_view le) {
  return std::string(histogram) + "_bucket{le=\"" + std::string(le) + "\"}";
}

}  // namespace

TEST_CASE("a Timestamp's age and a clock ahead fall in their buckets, bounds included") {
  detail::ReceiverMetrics metrics;
  const TimePoint arrival = *parse_rfc3339("2024-04-24T15:26:04Z");
  metrics.count_timestamp(arrival, arrival);               // 0: the age histogram
  metrics.count_timestamp(arrival - 300s, arrival);        // exactly the default tolerance
  metrics.count_timestamp(arrival - 300s - 1ms, arrival);  // just beyond it
  metrics.count_timestamp(arrival + 1ms, arrival);         // ahead by exactly the first bound
  metrics.count_timestamp(arrival + 2s, arrival);
  // Go's zero time, an unset Timestamp: centuries in the past, counted without overflow.
  metrics.count_timestamp(*parse_rfc3339("0001-01-01T00:00:00Z"), arrival);
  const std::string text = metrics.render();
  CAPTURE(text);
  const struct {
    std::string_view line;
    double want;
  } cases[] = {
      {"tykhook_delivery_age_seconds_bucket{le=\"0.1\"}", 1},
      {"tykhook_delivery_age_seconds_bucket{le=\"120\"}", 1},
      {"tykhook_delivery_age_seconds_bucket{le=\"300\"}", 2},
      {"tykhook_delivery_age_seconds_bucket{le=\"600\"}", 3},
      {"tykhook_delivery_age_seconds_bucket{le=\"86400\"}", 3},
      {"tykhook_delivery_age_seconds_bucket{le=\"+Inf\"}", 4},
      {"tykhook_delivery_age_seconds_count", 4},
      {"tykhook_clock_ahead_seconds_bucket{le=\"0.001\"}", 1},
      {"tykhook_clock_ahead_seconds_bucket{le=\"1\"}", 1},
      {"tykhook_clock_ahead_seconds_bucket{le=\"2\"}", 2},
      {"tykhook_clock_ahead_seconds_bucket{le=\"+Inf\"}", 2},
      {"tykhook_clock_ahead_seconds_count", 2},
      {"tykhook_clock_ahead_seconds_sum", 2.001},
  };
  for (const auto& c : cases) {
    CAPTURE(c.line);
    CHECK(metric_value(text, std::string(c.line)) == doctest::Approx(c.want));
  }
  // The unset Timestamp's 9.2e9 s dominate the sum, which neither wraps nor goes negative.
  CHECK(metric_value(text, "tykhook_delivery_age_seconds_sum") > 9e9);
  CHECK(text.find("# TYPE tykhook_delivery_age_seconds histogram\n") != std::string::npos);
  CHECK(text.find("# TYPE tykhook_clock_ahead_seconds histogram\n") != std::string::npos);
}

TEST_CASE("deliveries sent with chosen Timestamps are counted by how far they were off") {
  Running running(with_store());
  const std::string body = sample("UserRegistered");
  const auto sent_at = [&](std::chrono::nanoseconds offset) {
    return *with_timestamp(body, now() + offset);
  };
  // Each offset sits mid-bucket, so the time a delivery takes to arrive cannot move it.
  const std::string half_a_minute_late = sent_at(-45s);
  REQUIRE(running.deliver(half_a_minute_late));
  REQUIRE(running.deliver(half_a_minute_late));               // a duplicate: counted again
  REQUIRE(running.deliver(sent_at(-9min)));                   // stale (over 5m): counted
  REQUIRE(running.deliver(sent_at(-2h)));                     // stale
  REQUIRE(running.deliver(sent_at(3500ms)));                  // ahead of this clock
  REQUIRE(running.deliver(sent_at(-30s), "another secret"));  // not authentic: never read
  REQUIRE(running.deliver(R"({"Event":"UserRegistered","Message":{},"Timestamp":"yesterday"})"));
  REQUIRE(running.records(7).size() == 7);
  const std::string metrics = running.receiver().metrics();
  CAPTURE(metrics);
  CHECK(metrics.find(R"(tykhook_deliveries_total{event="UserRegistered",verdict="stale"} 2)") !=
        std::string::npos);

  constexpr std::string_view age = "tykhook_delivery_age_seconds";
  constexpr std::string_view ahead = "tykhook_clock_ahead_seconds";
  const struct {
    std::string line;
    double want;
  } cases[] = {
      {bucket(age, "30"), 0},     {bucket(age, "60"), 2},
      {bucket(age, "300"), 2},    {bucket(age, "600"), 3},
      {bucket(age, "3600"), 3},   {bucket(age, "86400"), 4},
      {bucket(age, "+Inf"), 4},   {std::string(age) + "_count", 4},
      {bucket(ahead, "2"), 0},    {bucket(ahead, "5"), 1},
      {bucket(ahead, "+Inf"), 1}, {std::string(ahead) + "_count", 1},
  };
  for (const auto& c : cases) {
    CAPTURE(c.line);
    CHECK(metric_value(metrics, c.line) == c.want);
  }
  // 45 + 45 + 540 + 7200 s, and what the deliveries took to arrive.
  const double sum = metric_value(metrics, std::string(age) + "_sum");
  CHECK(sum >= 7830);
  CHECK(sum < 7830 + 60);
}
