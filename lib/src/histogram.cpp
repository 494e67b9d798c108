#include "histogram.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <stdexcept>

namespace tykhook::detail {

std::string metric_number(double value, int digits) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.*g", digits, value);
  return buffer;
}

void metric_header(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

Histogram::Histogram(std::span<const double> bounds) : bounds_(bounds) {
  if (bounds.size() > max_bounds) {
    throw std::invalid_argument("tykhook::detail::Histogram: more than " +
                                std::to_string(max_bounds) + " bounds");
  }
}

void Histogram::observe(std::chrono::microseconds duration) {
  const double seconds = static_cast<double>(duration.count()) / 1e6;
  std::size_t bucket = 0;
  while (bucket < bounds_.size() && seconds > bounds_[bucket]) ++bucket;
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  // Latencies never come near the limit of 2^64 us (584,000 years), but a clock skew can be
  // centuries long (a Timestamp the portal left unset): the sum saturates instead of wrapping.
  const auto add = static_cast<std::uint64_t>(std::max<std::int64_t>(duration.count(), 0));
  constexpr std::uint64_t most = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t sum = sum_us_.load(std::memory_order_relaxed);
  while (!sum_us_.compare_exchange_weak(sum, sum > most - add ? most : sum + add,
                                        std::memory_order_relaxed)) {
  }
}

void Histogram::render(std::string& out, std::string_view name, std::string_view help) const {
  metric_header(out, name, "histogram", help);
  std::uint64_t cumulative = 0;
  for (std::size_t bucket = 0; bucket <= bounds_.size(); ++bucket) {
    cumulative += counts_[bucket].load(std::memory_order_relaxed);
    out.append(name)
        .append("_bucket{le=\"")
        .append(bucket < bounds_.size() ? metric_number(bounds_[bucket], 6) : "+Inf")
        .append("\"} ")
        .append(std::to_string(cumulative))
        .append("\n");
  }
  const double sum = static_cast<double>(sum_us_.load(std::memory_order_relaxed)) / 1e6;
  out.append(name).append("_sum ").append(metric_number(sum, 12)).append("\n");
  out.append(name).append("_count ").append(std::to_string(cumulative)).append("\n");
}

}  // namespace tykhook::detail
