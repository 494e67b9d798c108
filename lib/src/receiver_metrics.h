#pragma once

// Private to the library: the receiver's counters, rendered in the Prometheus text format
// (version 0.0.4). Every method is lock-free and safe from many threads at once.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tykhook/events.h"

namespace tykhook::detail {

/// Counts what the receiver answered: deliveries by event and verdict, responses by status,
/// delivery latency, and the failures of the store, the capture directory and the handlers.
class ReceiverMetrics {
 public:
  /// The `event` label of a delivery: the catalogue's wire name, "unknown" for an event outside
  /// the catalogue, "none" when the body could not be read. The label set stays bounded
  /// whatever a client sends.
  static std::string_view event_label(std::optional<Event> event, bool has_name);

  /// Counts one delivery answered with `verdict` (one of DESIGN.md's verdicts, "rejected" or
  /// "error") for the event label `event` (see event_label), and its latency.
  void count_delivery(std::string_view event, std::string_view verdict,
                      std::chrono::microseconds duration);
  /// Counts one response with HTTP status `status`.
  void count_response(int status);
  void count_store_error() { store_errors_.fetch_add(1, std::memory_order_relaxed); }
  void count_capture_error() { capture_errors_.fetch_add(1, std::memory_order_relaxed); }
  void count_handler_error() { handler_errors_.fetch_add(1, std::memory_order_relaxed); }

  /// The metrics in the Prometheus text format.
  [[nodiscard]] std::string render() const;

 private:
  static constexpr std::size_t event_labels = 16;    // 14 events, "unknown", "none"
  static constexpr std::size_t verdict_labels = 14;  // 12 verdicts, "rejected", "error"
  static constexpr std::size_t buckets = 14;
  static constexpr std::array<double, buckets> bucket_bounds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

  using Counter = std::atomic<std::uint64_t>;
  std::array<std::array<Counter, verdict_labels>, event_labels> deliveries_{};
  std::array<Counter, 600> responses_{};                // by status, 100 to 599; others count as 0
  std::array<Counter, buckets + 1> latency_buckets_{};  // the last one is +Inf
  Counter latency_sum_us_{0};
  Counter store_errors_{0};
  Counter capture_errors_{0};
  Counter handler_errors_{0};
};

}  // namespace tykhook::detail
