#pragma once

// Private to the library: what the inspector page shows, the receiver's recent deliveries, kept
// in memory within a count and a size, and the attempts its worker made at handing them on.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tykhook/queue.h"
#include "tykhook/receiver.h"
#include "tykhook/request.h"
#include "tykhook/timestamp.h"

namespace tykhook::detail {

/// What the receiver knows of a delivery besides its log record, once its body was read: kept
/// only for the inspector.
struct DeliveryDetails {
  std::string target;           ///< the request target, query included, as a capture holds it
  std::vector<Header> headers;  ///< as received, the required header's value redacted
  std::string body;             ///< exactly as received
  std::string key;              ///< the idempotency key, once authentic
  std::optional<double> skew_seconds;  ///< arrival minus the body's Timestamp, once read
  bool queued = false;                 ///< queued for the target with its claim
  bool body_read = false;  ///< false when the delivery was refused before its body was read
};

/// One attempt of the receiver's worker at handing a delivery on.
struct AttemptNote {
  TimePoint time{};  ///< when it ended
  unsigned attempt = 0;
  QueueState outcome = QueueState::done;  ///< done, retrying or dead
  std::optional<std::string> error;
  std::chrono::microseconds duration{0};
};

/// A delivery as the inspector keeps it.
struct InspectedDelivery {
  std::uint64_t id = 0;  ///< 1, 2, ... in the order the receiver answered them
  RequestRecord record;
  std::vector<std::string> errors;  ///< the verdict's (or the refusal's)
  DeliveryDetails details;          ///< headers and body empty when refused before the body
};

/// Which kept deliveries a page lists, newest first.
struct DeliveryFilter {
  std::size_t limit = 100;
  std::uint64_t after = 0;  ///< only those with a larger id
  std::optional<std::string> verdict;
  std::optional<std::string> event;
};

/// The recent deliveries, the newest `keep` whose bodies and headers fit in `max_bytes`.
/// Thread-safe: the receiver's threads add, the inspector's requests read.
class DeliveryLog {
 public:
  using Kept = std::shared_ptr<const InspectedDelivery>;

  DeliveryLog(std::size_t keep, std::size_t max_bytes);

  /// Keeps `delivery` under the next id, letting the oldest go while over a limit.
  void add(InspectedDelivery delivery);
  /// Notes an attempt at the delivery queued under `key`.
  void attempted(const std::string& key, AttemptNote note);

  struct Page {
    std::vector<Kept> deliveries;  ///< newest first
    std::uint64_t latest = 0;      ///< the largest id given so far
    std::size_t kept = 0;
    std::uint64_t dropped = 0;  ///< let go to stay within the limits
  };
  [[nodiscard]] Page recent(const DeliveryFilter& filter) const;
  /// Every kept delivery that arrived at `since` or later, oldest first.
  [[nodiscard]] std::vector<Kept> since(TimePoint since) const;
  [[nodiscard]] Kept find(std::uint64_t id) const;
  /// The newest kept delivery with the idempotency key `key`.
  [[nodiscard]] Kept find_key(std::string_view key) const;
  /// The attempts noted for `key`, oldest first.
  [[nodiscard]] std::vector<AttemptNote> attempts(const std::string& key) const;

 private:
  static std::size_t size_of(const InspectedDelivery& delivery);
  void forget_oldest();
  Kept find_locked(std::uint64_t id) const;
  Kept find_key_locked(std::string_view key) const;

  const std::size_t keep_;
  const std::size_t max_bytes_;
  mutable std::mutex mutex_;
  std::deque<Kept> deliveries_;  // oldest first; ids increase by one
  std::map<std::string, std::uint64_t, std::less<>> newest_by_key_;  // the id of the newest
  std::map<std::string, std::vector<AttemptNote>, std::less<>> attempts_;
  std::size_t bytes_ = 0;
  std::uint64_t next_id_ = 1;
  std::uint64_t dropped_ = 0;
};

}  // namespace tykhook::detail
