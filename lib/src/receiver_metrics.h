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
#include <variant>

#include "tykhook/events.h"
#include "tykhook/receiver.h"
#include "tykhook/verifier.h"

namespace tykhook::detail {

/// A delivery's X-Tykhook-Verdict: the verifier's verdict, or the receiver's own outcome.
using DeliveryOutcome = std::variant<VerdictKind, ReceiverOutcome>;

/// Returns the outcome's external name ("ok", "rejected").
[[nodiscard]] std::string_view to_string(const DeliveryOutcome& outcome);

/// Counts what the receiver answered: deliveries by event and verdict, responses by status,
/// delivery latency, and the failures of the store, the capture directory and the handlers.
class ReceiverMetrics {
 public:
  /// Counts one delivery answered with `outcome`, and its latency. Its `event` label is the
  /// catalogue's wire name of `event`, else "unknown" when the body `named` an event, else
  /// "none": the label set stays bounded whatever a client sends.
  void count_delivery(std::optional<Event> event, bool named, const DeliveryOutcome& outcome,
                      std::chrono::microseconds duration);
  /// Counts one response with HTTP status `status`.
  void count_response(int status);
  void count_store_error() { store_errors_.fetch_add(1, std::memory_order_relaxed); }
  void count_capture_error() { capture_errors_.fetch_add(1, std::memory_order_relaxed); }
  void count_handler_error() { handler_errors_.fetch_add(1, std::memory_order_relaxed); }

  /// The metrics in the Prometheus text format.
  [[nodiscard]] std::string render() const;

 private:
  static constexpr std::size_t event_labels = 16;    // 14 events (by Event), "unknown", "none"
  static constexpr std::size_t verdict_labels = 14;  // 12 verdicts (by VerdictKind), 2 outcomes
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
