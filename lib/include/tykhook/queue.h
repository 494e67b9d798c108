#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tykhook/request.h"
#include "tykhook/timestamp.h"

namespace tykhook {

/// Where a queued delivery stands (DESIGN.md, "Handing deliveries on"): `pending` (not tried
/// yet, or sent back by `queue retry`), `retrying` (an attempt failed; another is due at
/// next_attempt), `done` (an attempt succeeded) or `dead` (given up).
enum class QueueState { pending, retrying, done, dead };

/// Returns the state's external name ("retrying").
[[nodiscard]] std::string_view to_string(QueueState state);
/// Returns the state named `name` ("dead"), or nullopt when there is none of that name.
[[nodiscard]] std::optional<QueueState> parse_queue_state(std::string_view name);

/// One delivery in the queue: its exact request as received, and where it stands.
struct QueueEntry {
  std::string key;       ///< the delivery's idempotency key (lower-case hex SHA-256 of the body)
  std::string event;     ///< the event's wire name
  Request request;       ///< method, target, headers and body, exactly as received
  TimePoint received{};  ///< when the receiver read it
  QueueState state = QueueState::pending;  ///< where it stands
  unsigned attempts = 0;                   ///< attempts started so far (one in flight counts)
  /// When the next attempt is due: for pending and retrying entries; nullopt for done and dead.
  std::optional<TimePoint> next_attempt;
  std::optional<std::string> last_error;  ///< why the last attempt failed; nullopt before one
  /// When `queue retry` last sent it back (its attempts and age count from then); nullopt if never.
  std::optional<TimePoint> retried;
};

/// An entry taken for one attempt. The lease is the entry's for `lease` from the take: no other
/// take returns the entry before then (unless finished). `token` fences the attempt: a finish
/// with a token that is no longer the entry's (its lease ran out and another worker took it)
/// changes nothing.
struct LeasedEntry {
  QueueEntry entry;         ///< as taken: attempts already counts this attempt
  std::uint64_t token = 0;  ///< this lease's, for finish()
};

/// What Store::claim_and_lease did.
struct ClaimedLease {
  bool won = false;  ///< the claim won (the delivery is queued); false for a duplicate
  /// The token of the lease the store took on the new entry for the caller's first attempt; nullopt
  /// when it took none (a store that leases only in take(), or an entry of the key that was
  /// waiting already): the entry then waits, pending, for a take.
  std::optional<std::uint64_t> token;
};

/// How an attempt ended, as the store records it.
struct AttemptRecord {
  QueueState state = QueueState::done;    ///< done, retrying (next_attempt set) or dead
  std::optional<TimePoint> next_attempt;  ///< for retrying
  std::optional<std::string> error;       ///< why it failed; nullopt when done
};

/// How many entries are in each state, and the oldest entry that is not done.
struct QueueCounts {
  std::size_t pending = 0;   ///< not tried yet, or sent back
  std::size_t retrying = 0;  ///< waiting for their next attempt
  std::size_t done = 0;      ///< taken by the target (until their claim expires)
  std::size_t dead = 0;      ///< given up (until their claim expires)
  /// When the oldest pending or retrying entry was received; nullopt when there is none.
  std::optional<TimePoint> oldest_waiting;
  /// A queue on Redis Streams: the length of the stream attempts are handed out from (the
  /// entries in flight). nullopt for the other stores.
  std::optional<std::size_t> ready_stream_length;
  /// A queue on Redis Streams: the length of its dead-letter stream. nullopt for the others.
  std::optional<std::size_t> dead_letter_stream_length;
};

}  // namespace tykhook
