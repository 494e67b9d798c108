#include "receiver_metrics.h"

#include <variant>

#include "tykhook/receiver.h"
#include "tykhook/verifier.h"

namespace tykhook::detail {
namespace {

constexpr std::string_view unknown_event_label = "unknown";
constexpr std::string_view no_event_label = "none";

// Labels are indexed by their enumerators: the verdicts in DESIGN.md's order, then the
// receiver's own two; the catalogue's events, then "unknown" and "none".
constexpr std::size_t verdict_count = static_cast<std::size_t>(VerdictKind::duplicate) + 1;
constexpr std::size_t event_count =
    static_cast<std::size_t>(Event::OrganisationRequestRejected) + 1;

std::size_t outcome_index(const DeliveryOutcome& outcome) {
  if (const auto* kind = std::get_if<VerdictKind>(&outcome)) return static_cast<std::size_t>(*kind);
  return verdict_count + static_cast<std::size_t>(std::get<ReceiverOutcome>(outcome));
}

DeliveryOutcome outcome_at(std::size_t index) {
  if (index < verdict_count) return static_cast<VerdictKind>(index);
  return static_cast<ReceiverOutcome>(index - verdict_count);
}

std::string_view event_label_at(std::size_t index) {
  if (index < event_count) return tykhook::to_string(static_cast<Event>(index));
  return index == event_count ? unknown_event_label : no_event_label;
}

}  // namespace

std::string_view to_string(const DeliveryOutcome& outcome) {
  return std::visit([](auto kind) { return tykhook::to_string(kind); }, outcome);
}

void ReceiverMetrics::count_delivery(std::optional<Event> event, bool named,
                                     const DeliveryOutcome& outcome,
                                     std::chrono::microseconds duration) {
  static_assert(event_labels == event_count + 2 && verdict_labels == verdict_count + 2);
  const std::size_t event_index =
      event ? static_cast<std::size_t>(*event) : event_count + (named ? 0 : 1);
  deliveries_[event_index][outcome_index(outcome)].fetch_add(1, std::memory_order_relaxed);
  latency_.observe(duration);
}

void ReceiverMetrics::count_timestamp(TimePoint timestamp, TimePoint arrival) {
  // nanoseconds_between is exact over the whole range, and its microseconds fit a duration.
  const std::chrono::microseconds skew(
      static_cast<std::int64_t>(nanoseconds_between(timestamp, arrival) / 1000));
  (timestamp > arrival ? clock_ahead_ : timestamp_age_).observe(skew);
}

void ReceiverMetrics::count_attempt(AttemptOutcome outcome, std::chrono::microseconds duration) {
  attempts_[static_cast<std::size_t>(outcome)].fetch_add(1, std::memory_order_relaxed);
  target_latency_.observe(duration);
}

void ReceiverMetrics::count_response(int status) {
  const bool known = status >= 100 && status < static_cast<int>(responses_.size());
  responses_[known ? static_cast<std::size_t>(status) : 0].fetch_add(1, std::memory_order_relaxed);
}

std::string ReceiverMetrics::render() const {
  std::string out;
  metric_header(
      out, "tykhook_deliveries_total", "counter",
      "Deliveries (POST, PUT, PATCH) answered, by event and by the X-Tykhook-Verdict sent.");
  for (std::size_t e = 0; e < event_labels; ++e) {
    for (std::size_t v = 0; v < verdict_labels; ++v) {
      const auto count = deliveries_[e][v].load(std::memory_order_relaxed);
      if (count == 0) continue;
      out.append("tykhook_deliveries_total{event=\"").append(event_label_at(e));
      out.append("\",verdict=\"").append(to_string(outcome_at(v))).append("\"} ");
      out.append(std::to_string(count)).append("\n");
    }
  }

  render_secrets(out);

  metric_header(out, "tykhook_responses_total", "counter", "HTTP responses sent, by status.");
  for (std::size_t status = 0; status < responses_.size(); ++status) {
    const auto count = responses_[status].load(std::memory_order_relaxed);
    if (count == 0) continue;
    out.append("tykhook_responses_total{status=\"")
        .append(status == 0 ? "other" : std::to_string(status))
        .append("\"} ")
        .append(std::to_string(count))
        .append("\n");
  }

  latency_.render(out, "tykhook_delivery_duration_seconds",
                  "Time from a delivery's first byte to its response, in seconds.");
  timestamp_age_.render(out, "tykhook_delivery_age_seconds",
                        "Arrival time minus Timestamp of each authentic delivery whose Timestamp "
                        "was read and was not ahead of the clock, in seconds.");
  clock_ahead_.render(out, "tykhook_clock_ahead_seconds",
                      "Timestamp minus arrival time of each authentic delivery whose Timestamp "
                      "was ahead of the clock, in seconds.");

  const struct {
    std::string_view name;
    std::string_view help;
    const Counter& counter;
  } failures[] = {
      {"tykhook_store_errors_total",
       "Deliveries answered 503 because the idempotency store failed.", store_errors_},
      {"tykhook_capture_errors_total",
       "Deliveries answered 503 because their capture file could not be written.", capture_errors_},
  };
  for (const auto& failure : failures) {
    metric_header(out, failure.name, "counter", failure.help);
    out.append(failure.name)
        .append(" ")
        .append(std::to_string(failure.counter.load(std::memory_order_relaxed)))
        .append("\n");
  }
  if (queue_) render_queue(out);
  return out;
}

std::atomic<std::uint64_t>& ReceiverMetrics::secret_counter(const std::string& fingerprint) {
  const std::lock_guard lock(secrets_mutex_);
  return by_secret_.try_emplace(fingerprint, 0).first->second;
}

void ReceiverMetrics::render_secrets(std::string& out) const {
  // Labelled by fingerprint alone: an index changes when the secrets are reloaded, and a
  // fingerprint names the same secret on every host (README, "Rotating the secret").
  metric_header(out, "tykhook_deliveries_by_secret_total", "counter",
                "Authentic deliveries, by the fingerprint of the secret that matched.");
  const std::lock_guard lock(secrets_mutex_);
  for (const auto& [fingerprint, counter] : by_secret_) {
    out.append("tykhook_deliveries_by_secret_total{secret=\"").append(fingerprint).append("\"} ");
    out.append(std::to_string(counter.load(std::memory_order_relaxed))).append("\n");
  }
}

void ReceiverMetrics::render_queue(std::string& out) const {
  metric_header(out, "tykhook_attempts_total", "counter",
                "Attempts to hand a delivery on, by outcome: done, retry or dead.");
  for (const AttemptOutcome outcome :
       {AttemptOutcome::done, AttemptOutcome::retry, AttemptOutcome::dead}) {
    out.append("tykhook_attempts_total{outcome=\"")
        .append(tykhook::to_string(outcome))
        .append("\"} ")
        .append(std::to_string(
            attempts_[static_cast<std::size_t>(outcome)].load(std::memory_order_relaxed)))
        .append("\n");
  }
  target_latency_.render(out, "tykhook_attempt_duration_seconds",
                         "Time the target took for one attempt, in seconds.");
  QueueCounts counts;
  try {
    counts = queue_->counts();
  } catch (const std::exception&) {
    // A store that cannot answer now: the queue's gauges are left out of this scrape.
    return;
  }
  metric_header(out, "tykhook_queue_entries", "gauge", "Entries in the delivery queue, by state.");
  const struct {
    QueueState state;
    std::size_t count;
  } states[] = {{QueueState::pending, counts.pending},
                {QueueState::retrying, counts.retrying},
                {QueueState::done, counts.done},
                {QueueState::dead, counts.dead}};
  for (const auto& each : states) {
    out.append("tykhook_queue_entries{state=\"")
        .append(tykhook::to_string(each.state))
        .append("\"} ")
        .append(std::to_string(each.count))
        .append("\n");
  }
  metric_header(out, "tykhook_queue_oldest_waiting_seconds", "gauge",
                "Age of the oldest entry that is pending or retrying; 0 when none waits.");
  double age = 0;
  if (counts.oldest_waiting) {
    const auto now = std::chrono::time_point_cast<TimePoint::duration>(Clock::now());
    age = std::chrono::duration<double>(now - *counts.oldest_waiting).count();
  }
  out.append("tykhook_queue_oldest_waiting_seconds ")
      .append(metric_number(age < 0 ? 0 : age, 6))
      .append("\n");
  if (!counts.ready_stream_length || !counts.dead_letter_stream_length) return;
  metric_header(out, "tykhook_queue_stream_length", "gauge",
                "Entries in the queue's Redis streams: ready (handed to attempts, in flight) and "
                "dead_letters.");
  out.append("tykhook_queue_stream_length{stream=\"ready\"} ")
      .append(std::to_string(*counts.ready_stream_length))
      .append("\ntykhook_queue_stream_length{stream=\"dead_letters\"} ")
      .append(std::to_string(*counts.dead_letter_stream_length))
      .append("\n");
}

}  // namespace tykhook::detail
