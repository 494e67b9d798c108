#include "inspector_views.h"

#include <algorithm>
#include <map>

#include "tykhook/capture.h"
#include "tykhook/explain.h"
#include "tykhook/timestamp.h"

namespace tykhook::detail {

namespace {

using nlohmann::ordered_json;

ordered_json optional_text(const std::optional<std::string>& text) {
  return text ? ordered_json(*text) : ordered_json(nullptr);
}

ordered_json optional_time(const std::optional<TimePoint>& time) {
  return time ? ordered_json(format_rfc3339(*time, 6)) : ordered_json(nullptr);
}

ordered_json queue_summary(const std::optional<QueueEntry>& entry) {
  if (!entry) return nullptr;
  return {{"state", to_string(entry->state)}, {"attempts", entry->attempts}};
}

// The errors that name a place in the body (schema errors start with its JSON pointer).
ordered_json marks_of(const std::vector<std::string>& errors) {
  ordered_json marks = ordered_json::array();
  for (const std::string& error : errors) {
    const auto colon = error.find(": ");
    if (error.starts_with('/') && colon != std::string::npos) {
      marks.push_back({{"pointer", error.substr(0, colon)}, {"message", error.substr(colon + 2)}});
    }
  }
  return marks;
}

Request request_of(const InspectedDelivery& delivery) {
  return Request{
      .method = delivery.record.method,
      .target = delivery.details.target.empty() ? delivery.record.path : delivery.details.target,
      .headers = delivery.details.headers,
      .body = delivery.details.body};
}

}  // namespace

ordered_json delivery_summary(const InspectedDelivery& delivery,
                              const std::optional<QueueEntry>& entry) {
  const RequestRecord& record = delivery.record;
  const DeliveryDetails& details = delivery.details;
  return {{"id", delivery.id},
          {"time", format_rfc3339(record.time, 6)},
          {"client", record.client},
          {"method", record.method},
          {"path", record.path},
          {"event", optional_text(record.event)},
          {"verdict", record.verdict},
          {"status", record.status},
          {"key", details.key.empty() ? ordered_json(nullptr) : ordered_json(details.key)},
          {"skew_seconds", details.skew_seconds ? ordered_json(*details.skew_seconds) : nullptr},
          {"secret", record.secret_fingerprint.empty() ? ordered_json(nullptr)
                                                       : ordered_json(record.secret_fingerprint)},
          {"error", record.error.empty() ? ordered_json(nullptr) : ordered_json(record.error)},
          {"queue", queue_summary(entry)}};
}

ordered_json delivery_in_full(const InspectedDelivery& delivery,
                              const std::optional<QueueEntry>& entry,
                              const std::vector<AttemptNote>& attempts,
                              const std::vector<Secret>& secrets) {
  ordered_json json = delivery_summary(delivery, entry);
  ordered_json headers = ordered_json::array();
  for (const Header& header : delivery.details.headers) {
    headers.push_back({header.name, header.value});
  }
  json["headers"] = std::move(headers);
  json["body"] = delivery.details.body;
  json["body_bytes"] = delivery.details.body.size();
  json["errors"] = delivery.errors;
  json["marks"] = marks_of(delivery.errors);
  json["hints"] = delivery.record.verdict == "signature_mismatch"
                      ? explain_mismatch(request_of(delivery), secrets, {.every_cause = true})
                      : std::vector<std::string>{};
  if (entry) {
    ordered_json history = ordered_json::array();
    for (const AttemptNote& note : attempts) {
      history.push_back({{"time", format_rfc3339(note.time, 6)},
                         {"attempt", note.attempt},
                         {"outcome", to_string(note.outcome)},
                         {"error", optional_text(note.error)},
                         {"duration_ms", static_cast<double>(note.duration.count()) / 1000.0}});
    }
    json["queue"] = {{"state", to_string(entry->state)},
                     {"attempts", entry->attempts},
                     {"next_attempt", optional_time(entry->next_attempt)},
                     {"last_error", optional_text(entry->last_error)},
                     {"history", std::move(history)}};
  }
  return json;
}

ordered_json activity_by_minute(const std::vector<DeliveryLog::Kept>& deliveries, TimePoint now) {
  using std::chrono::minutes;
  constexpr int span = 60;
  const auto last = std::chrono::floor<minutes>(now);
  const auto first = last - minutes(span - 1);
  struct Minute {
    std::map<std::string, std::size_t> verdicts;
    std::optional<double> min_skew, max_skew;
  };
  std::vector<Minute> by_minute(span);
  for (const auto& delivery : deliveries) {
    const auto at = std::chrono::floor<minutes>(delivery->record.time);
    if (at < first || at > last || delivery->record.verdict.empty()) continue;
    Minute& minute = by_minute[static_cast<std::size_t>((at - first).count())];
    ++minute.verdicts[delivery->record.verdict];
    if (const auto skew = delivery->details.skew_seconds) {
      minute.min_skew = std::min(minute.min_skew.value_or(*skew), *skew);
      minute.max_skew = std::max(minute.max_skew.value_or(*skew), *skew);
    }
  }
  ordered_json minutes_json = ordered_json::array();
  for (int i = 0; i < span; ++i) {
    const Minute& minute = by_minute[static_cast<std::size_t>(i)];
    ordered_json skew = nullptr;
    if (minute.min_skew) skew = {{"min", *minute.min_skew}, {"max", *minute.max_skew}};
    minutes_json.push_back({{"start", format_rfc3339(TimePoint(first + minutes(i)), 0)},
                            {"verdicts", minute.verdicts},
                            {"skew_seconds", std::move(skew)}});
  }
  return {{"now", format_rfc3339(now, 6)}, {"minutes", std::move(minutes_json)}};
}

std::string delivery_capture(const InspectedDelivery& delivery) {
  return write_json_capture(request_of(delivery), delivery.record.time);
}

std::string dump(const ordered_json& json) {
  return json.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

}  // namespace tykhook::detail
