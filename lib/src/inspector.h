#pragma once

// Private to the library: the inspector (`listen --ui`, DESIGN.md "The inspector"), the page at
// /ui/ and the JSON endpoints under /ui/api/ it reads. It answers its own requests, checking the
// token and the origin of each; the receiver's threads feed its log of recent deliveries.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "inspector_log.h"
#include "request_head.h"
#include "responder.h"
#include "tykhook/receiver.h"
#include "tykhook/signature.h"
#include "tykhook/store.h"
#include "tykhook/worker.h"

namespace tykhook::detail {

/// True when `path` (decoded, without its query) is the inspector's: /ui, or under /ui/.
[[nodiscard]] bool is_inspector_path(std::string_view path);

/// The inspector's requests and its log. Thread-safe.
class Inspector {
 public:
  /// What the inspector reads of the receiver besides its own log.
  struct Receiving {
    /// The queue that ok deliveries go to; nullptr without a target.
    std::shared_ptr<Store> queue;
    /// The secrets in force (for the likely causes of a signature mismatch).
    std::function<std::vector<Secret>()> secrets;
    /// Wakes the worker after a delivery was sent back to the queue.
    std::function<void()> queued;
  };

  /// Throws std::invalid_argument when the token is shorter than 16 characters or holds a
  /// character outside URL-safe text.
  Inspector(const InspectorOptions& options, Receiving receiving);

  /// The answer to a request on the inspector's path, at `now`.
  [[nodiscard]] Answer answer(const Head& head, TimePoint now);

  /// Keeps a delivery the receiver answered.
  void add(InspectedDelivery delivery) { log_.add(std::move(delivery)); }
  /// Notes an attempt of the receiver's worker.
  void attempted(const AttemptReport& report);

 private:
  struct Call;  // one request, parsed

  Answer page(const Call& call) const;
  Answer api(const Call& call, TimePoint now);
  Answer list(const Call& call) const;
  Answer one(const DeliveryLog::Kept& delivery) const;
  Answer capture(const DeliveryLog::Kept& delivery) const;
  Answer retry(const DeliveryLog::Kept& delivery, TimePoint now);
  Answer activity(TimePoint now) const;
  [[nodiscard]] bool token_matches(std::string_view given) const;

  Digest token_digest_;
  Receiving receiving_;
  DeliveryLog log_;
};

}  // namespace tykhook::detail
