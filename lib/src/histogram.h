#pragma once

// Private to the library: a latency histogram in the Prometheus text format, lock-free.

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace tykhook::detail {

/// A floating-point value in the shortest form that keeps `digits` significant digits: bucket
/// bounds read "0.0005", not "0.00050000000000000001".
[[nodiscard]] std::string metric_number(double value, int digits);

/// Appends the HELP and TYPE lines of metric `name` to `out`.
void metric_header(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help);

/// Durations counted in buckets with the upper bounds given (in seconds, ascending), by default
/// from half a millisecond to ten seconds. Safe from many threads.
class Histogram {
 public:
  /// The bounds of a latency: half a millisecond to ten seconds.
  static constexpr std::array<double, 14> latency_bounds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  /// The most bounds a histogram takes.
  static constexpr std::size_t max_bounds = 16;

  /// Counts in buckets up to `bounds`, which must outlive the histogram (a constant); more than
  /// max_bounds is misuse (std::invalid_argument).
  explicit Histogram(std::span<const double> bounds = latency_bounds);
  /// Counts one duration; `_sum` stops at its largest value rather than wrapping around.
  void observe(std::chrono::microseconds duration);
  /// Appends the histogram as metric `name` (in seconds), with its HELP and TYPE lines.
  void render(std::string& out, std::string_view name, std::string_view help) const;

 private:
  std::span<const double> bounds_;
  std::array<std::atomic<std::uint64_t>, max_bounds + 1> counts_{};  // one past the last: +Inf
  std::atomic<std::uint64_t> sum_us_{0};
};

}  // namespace tykhook::detail
