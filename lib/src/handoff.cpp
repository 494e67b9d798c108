#include "handoff.h"

#include <utility>

#include "tykhook/store.h"
#include "tykhook/worker.h"

namespace tykhook::detail {
namespace {

thread_local Handoff* current_handoff = nullptr;

}  // namespace

Handoff::~Handoff() {
  if (reserved_) worker_.unreserve();
}

bool Handoff::claim(Store& store, QueueEntry entry, std::chrono::milliseconds ttl,
                    std::chrono::milliseconds lease) {
  if (!reserved_) reserved_ = worker_.reserve();
  if (!reserved_) {
    queued_ = store.claim_and_enqueue(entry, ttl);
    return queued_;
  }
  const ClaimedLease claimed = store.claim_and_lease(entry, ttl, entry.received + lease);
  queued_ = claimed.won;
  if (!claimed.token) {
    // Nothing to hand on (a duplicate, an entry of the key waiting already, a store that
    // leases nothing): the slot goes back now, not when the answer ends.
    reserved_ = false;
    worker_.unreserve();
  } else {
    // As take() would return it: pending, due when received, this attempt counted.
    entry.state = QueueState::pending;
    entry.attempts = 1;
    entry.next_attempt = entry.received;
    leased_.emplace(LeasedEntry{.entry = std::move(entry), .token = *claimed.token});
  }
  return claimed.won;
}

void Handoff::hand_on() {
  if (leased_) {
    reserved_ = false;
    worker_.hand(std::move(*leased_));
    leased_.reset();
  } else if (queued_) {
    worker_.wake();
  }
}

Handoff* Handoff::current() { return current_handoff; }

Handoff::Scope::Scope(Handoff& handoff) : outer_(current_handoff) { current_handoff = &handoff; }

Handoff::Scope::~Scope() { current_handoff = outer_; }

}  // namespace tykhook::detail
