#pragma once

// Private to the library: the JSON that the inspector's endpoints answer with (DESIGN.md, "The
// inspector"), built from its log and the queue's entries. Nothing here checks access.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "inspector_log.h"
#include "tykhook/queue.h"
#include "tykhook/signature.h"

namespace tykhook::detail {

/// A delivery's summary, as a row of the list shows it; `entry` is its queue entry when queued.
[[nodiscard]] nlohmann::ordered_json delivery_summary(const InspectedDelivery& delivery,
                                                      const std::optional<QueueEntry>& entry);

/// A delivery in full: the summary, its headers and body, its errors, the places in the body
/// they name, the likely causes of a signature mismatch (under `secrets`), and its queue history
/// (`attempts`).
[[nodiscard]] nlohmann::ordered_json delivery_in_full(const InspectedDelivery& delivery,
                                                      const std::optional<QueueEntry>& entry,
                                                      const std::vector<AttemptNote>& attempts,
                                                      const std::vector<Secret>& secrets);

/// Deliveries per minute by verdict, and the clock skew, over the hour up to `now`.
[[nodiscard]] nlohmann::ordered_json activity_by_minute(
    const std::vector<DeliveryLog::Kept>& deliveries, TimePoint now);

/// The delivery as a tykhook JSON capture.
[[nodiscard]] std::string delivery_capture(const InspectedDelivery& delivery);

/// Renders `json`, replacing bytes that are not UTF-8 (a body may hold any).
[[nodiscard]] std::string dump(const nlohmann::ordered_json& json);

}  // namespace tykhook::detail
