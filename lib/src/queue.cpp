#include "tykhook/queue.h"

#include <string>

#include "tykhook/error.h"
#include "tykhook/store.h"

namespace tykhook {

std::string_view to_string(QueueState state) {
  switch (state) {
    case QueueState::pending:
      return "pending";
    case QueueState::retrying:
      return "retrying";
    case QueueState::done:
      return "done";
    case QueueState::dead:
      return "dead";
  }
  return "";  // unreachable for a valid enumerator; -Wall flags a missing case above
}

std::optional<QueueState> parse_queue_state(std::string_view name) {
  for (const QueueState state :
       {QueueState::pending, QueueState::retrying, QueueState::done, QueueState::dead}) {
    if (to_string(state) == name) return state;
  }
  return std::nullopt;
}

// ---- stores without a queue ---------------------------------------------------------------------

namespace {

[[noreturn]] void no_queue() {
  throw Error(
      "this store holds no delivery queue; use sqlite:PATH (one host), redis://HOST:PORT "
      "(several hosts) or memory: (tests)");
}

}  // namespace

bool Store::claim_and_enqueue(const QueueEntry&, std::chrono::milliseconds) { no_queue(); }
ClaimedLease Store::claim_and_lease(const QueueEntry& entry, std::chrono::milliseconds ttl,
                                    TimePoint) {
  return {.won = claim_and_enqueue(entry, ttl), .token = std::nullopt};
}
std::vector<LeasedEntry> Store::take(TimePoint, std::chrono::milliseconds, std::size_t) {
  no_queue();
}
bool Store::finish(std::string_view, std::uint64_t, const AttemptRecord&) { no_queue(); }
bool Store::give_back(std::string_view, std::uint64_t) { return false; }
std::optional<TimePoint> Store::next_due() { no_queue(); }
std::vector<QueueEntry> Store::list(std::optional<QueueState>, std::size_t) { no_queue(); }
std::optional<QueueEntry> Store::find(std::string_view) { no_queue(); }
bool Store::retry(std::string_view, TimePoint) { no_queue(); }
bool Store::drop(std::string_view) { no_queue(); }
QueueCounts Store::counts() { no_queue(); }

}  // namespace tykhook
