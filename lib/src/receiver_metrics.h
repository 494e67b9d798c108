#pragma once

// Private to the library: the receiver's counters, rendered in the Prometheus text format
// (version 0.0.4). Every method is safe from many threads at once, and the counting ones are
// lock-free.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "histogram.h"
#include "tykhook/events.h"
#include "tykhook/receiver.h"
#include "tykhook/store.h"
#include "tykhook/timestamp.h"
#include "tykhook/verifier.h"
#include "tykhook/worker.h"

namespace tykhook::detail {

/// A delivery's X-Tykhook-Verdict: the verifier's verdict, or the receiver's own outcome.
using DeliveryOutcome = std::variant<VerdictKind, ReceiverOutcome>;

/// Returns the outcome's external name ("ok", "rejected").
[[nodiscard]] std::string_view to_string(const DeliveryOutcome& outcome);

/// Counts what the receiver answered: deliveries by event and verdict, responses by status,
/// delivery latency, the failures of the store and the capture directory; and with a delivery
/// target, the attempts to hand deliveries on and the queue by state.
class ReceiverMetrics {
 public:
  /// Counts one delivery answered with `outcome`, and its latency. Its `event` label is the
  /// catalogue's wire name of `event`, else "unknown" when the body `named` an event, else
  /// "none": the label set stays bounded whatever a client sends.
  void count_delivery(std::optional<Event> event, bool named, const DeliveryOutcome& outcome,
                      std::chrono::microseconds duration);
  /// Counts the clock skew of one delivery whose Timestamp was read: `arrival - timestamp` in the
  /// age histogram when the Timestamp is not after `arrival`, else in the clock-ahead one.
  void count_timestamp(TimePoint timestamp, TimePoint arrival);
  /// Counts one response with HTTP status `status`.
  void count_response(int status);
  void count_store_error() { store_errors_.fetch_add(1, std::memory_order_relaxed); }
  void count_capture_error() { capture_errors_.fetch_add(1, std::memory_order_relaxed); }
  /// Counts one attempt to hand a delivery on, and the time the target took.
  void count_attempt(AttemptOutcome outcome, std::chrono::microseconds duration);
  /// The counter of the authentic deliveries verified with the secret of `fingerprint`
  /// (tykhook_deliveries_by_secret_total), made at 0 the first time. It lives as long as the
  /// metrics, so that a secret's count survives a reload; only this and render() take a lock.
  [[nodiscard]] std::atomic<std::uint64_t>& secret_counter(const std::string& fingerprint);
  /// Adds the queue's metrics, read from `store` at each render (a store with a queue).
  void watch_queue(std::shared_ptr<Store> store) { queue_ = std::move(store); }

  /// The metrics in the Prometheus text format.
  [[nodiscard]] std::string render() const;

 private:
  static constexpr std::size_t event_labels = 16;    // 14 events (by Event), "unknown", "none"
  static constexpr std::size_t verdict_labels = 14;  // 12 verdicts (by VerdictKind), 2 outcomes

  using Counter = std::atomic<std::uint64_t>;
  std::array<std::array<Counter, verdict_labels>, event_labels> deliveries_{};
  std::array<Counter, 600> responses_{};  // by status, 100 to 599; others count as 0
  Histogram latency_;
  // Prometheus buckets count from -inf, so a negative skew in one histogram would sit below every
  // bucket of a delay and make _sum go down: a Timestamp ahead is counted apart, as a positive
  // time. The portal queues deliveries: seconds to minutes late is normal, 5m the default
  // tolerance; a Timestamp ahead is a clock out of step, usually by milliseconds.
  static constexpr std::array<double, 14> age_bounds = {0.1, 0.5, 1,   2,   5,    10,   30,
                                                        60,  120, 300, 600, 1800, 3600, 86400};
  static constexpr std::array<double, 12> ahead_bounds = {0.001, 0.01, 0.1, 0.5, 1,   2,
                                                          5,     10,   30,  60,  300, 3600};
  Histogram timestamp_age_{age_bounds};
  Histogram clock_ahead_{ahead_bounds};
  Counter store_errors_{0};
  Counter capture_errors_{0};
  std::array<Counter, 3> attempts_{};  // by AttemptOutcome
  Histogram target_latency_;
  std::shared_ptr<Store> queue_;
  mutable std::mutex secrets_mutex_;          // guards by_secret_'s shape, not its counts
  std::map<std::string, Counter> by_secret_;  // by fingerprint; nodes never move

  void render_queue(std::string& out) const;
  void render_secrets(std::string& out) const;
};

}  // namespace tykhook::detail
