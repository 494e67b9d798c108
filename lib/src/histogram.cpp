#include "histogram.h"

#include <cstdio>

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

void Histogram::observe(std::chrono::microseconds duration) {
  const double seconds = static_cast<double>(duration.count()) / 1e6;
  std::size_t bucket = 0;
  while (bucket < buckets && seconds > bucket_bounds[bucket]) ++bucket;
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(static_cast<std::uint64_t>(duration.count()), std::memory_order_relaxed);
}

void Histogram::render(std::string& out, std::string_view name, std::string_view help) const {
  metric_header(out, name, "histogram", help);
  std::uint64_t cumulative = 0;
  for (std::size_t bucket = 0; bucket <= buckets; ++bucket) {
    cumulative += counts_[bucket].load(std::memory_order_relaxed);
    out.append(name)
        .append("_bucket{le=\"")
        .append(bucket < buckets ? metric_number(bucket_bounds[bucket], 6) : "+Inf")
        .append("\"} ")
        .append(std::to_string(cumulative))
        .append("\n");
  }
  const double sum = static_cast<double>(sum_us_.load(std::memory_order_relaxed)) / 1e6;
  out.append(name).append("_sum ").append(metric_number(sum, 12)).append("\n");
  out.append(name).append("_count ").append(std::to_string(cumulative)).append("\n");
}

}  // namespace tykhook::detail
