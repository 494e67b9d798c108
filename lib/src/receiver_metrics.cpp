#include "receiver_metrics.h"

#include <cstdio>
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

// A floating-point value in the shortest form that keeps `digits` significant digits: bucket
// bounds read "0.0005", not "0.00050000000000000001".
std::string number(double value, int digits) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.*g", digits, value);
  return buffer;
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
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
  const double seconds = static_cast<double>(duration.count()) / 1e6;
  std::size_t bucket = 0;
  while (bucket < buckets && seconds > bucket_bounds[bucket]) ++bucket;
  latency_buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  latency_sum_us_.fetch_add(static_cast<std::uint64_t>(duration.count()),
                            std::memory_order_relaxed);
}

void ReceiverMetrics::count_response(int status) {
  const bool known = status >= 100 && status < static_cast<int>(responses_.size());
  responses_[known ? static_cast<std::size_t>(status) : 0].fetch_add(1, std::memory_order_relaxed);
}

std::string ReceiverMetrics::render() const {
  std::string out;
  header(out, "tykhook_deliveries_total", "counter",
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

  header(out, "tykhook_responses_total", "counter", "HTTP responses sent, by status.");
  for (std::size_t status = 0; status < responses_.size(); ++status) {
    const auto count = responses_[status].load(std::memory_order_relaxed);
    if (count == 0) continue;
    out.append("tykhook_responses_total{status=\"")
        .append(status == 0 ? "other" : std::to_string(status))
        .append("\"} ")
        .append(std::to_string(count))
        .append("\n");
  }

  header(out, "tykhook_delivery_duration_seconds", "histogram",
         "Time from a delivery's first byte to its response, in seconds.");
  std::uint64_t cumulative = 0;
  for (std::size_t bucket = 0; bucket <= buckets; ++bucket) {
    cumulative += latency_buckets_[bucket].load(std::memory_order_relaxed);
    out.append("tykhook_delivery_duration_seconds_bucket{le=\"")
        .append(bucket < buckets ? number(bucket_bounds[bucket], 6) : "+Inf")
        .append("\"} ")
        .append(std::to_string(cumulative))
        .append("\n");
  }
  const double sum = static_cast<double>(latency_sum_us_.load(std::memory_order_relaxed)) / 1e6;
  out.append("tykhook_delivery_duration_seconds_sum ").append(number(sum, 12)).append("\n");
  out.append("tykhook_delivery_duration_seconds_count ")
      .append(std::to_string(cumulative))
      .append("\n");

  const struct {
    std::string_view name;
    std::string_view help;
    const Counter& counter;
  } failures[] = {
      {"tykhook_store_errors_total",
       "Deliveries answered 503 because the idempotency store failed.", store_errors_},
      {"tykhook_capture_errors_total",
       "Deliveries answered 503 because their capture file could not be written.", capture_errors_},
      {"tykhook_handler_errors_total", "Deliveries answered 500 because their handler failed.",
       handler_errors_},
  };
  for (const auto& failure : failures) {
    header(out, failure.name, "counter", failure.help);
    out.append(failure.name)
        .append(" ")
        .append(std::to_string(failure.counter.load(std::memory_order_relaxed)))
        .append("\n");
  }
  return out;
}

}  // namespace tykhook::detail
