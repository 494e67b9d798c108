#pragma once

// Private to the library: a delivery handed from the receiver straight to an attempt of its
// worker, leased in the same step of the store that claims and queues it
// (Store::claim_and_lease), so that no take (a transaction of its own) comes between.

#include <chrono>
#include <optional>

#include "tykhook/queue.h"

namespace tykhook {
class Store;
class Worker;
}  // namespace tykhook

namespace tykhook::detail {

/// One delivery's hand-off, for the time of its answer on the thread that answers it. claim()
/// reserves one of the worker's attempt slots and claims, queues and leases the entry in one
/// step of the store, giving the slot back at once when nothing was leased; hand_on(), once
/// the delivery is kept, gives the leased entry to that slot, or wakes the worker for an entry
/// queued without a lease (every slot was busy, or the store leases nothing). A hand-off that ends
/// without hand_on() (the capture failed, a throw) gives its slot back; an entry it leased waits
/// for its lease to run out, then a take finds it.
class Handoff {
 public:
  explicit Handoff(Worker& worker) : worker_(worker) {}
  ~Handoff();
  Handoff(const Handoff&) = delete;
  Handoff& operator=(const Handoff&) = delete;

  /// Store::claim_and_lease(entry, ttl, now + lease) with a slot reserved, or claim_and_enqueue
  /// when none is free. Returns whether the claim won; throws what the store throws.
  [[nodiscard]] bool claim(Store& store, QueueEntry entry, std::chrono::milliseconds ttl,
                           std::chrono::milliseconds lease);
  /// The delivery is kept: its attempt starts (or the worker looks at the store).
  void hand_on();

  /// The hand-off of the delivery this thread is answering, or nullptr outside one. The
  /// verifier's claim hook finds it here: it runs inside Verifier::verify, on this thread.
  [[nodiscard]] static Handoff* current();

  /// Makes `handoff` the current one for the life of the scope.
  class Scope {
   public:
    explicit Scope(Handoff& handoff);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Handoff* outer_;
  };

 private:
  Worker& worker_;
  bool reserved_ = false;
  bool queued_ = false;  // the claim won
  std::optional<LeasedEntry> leased_;
};

}  // namespace tykhook::detail
