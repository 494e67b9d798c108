#pragma once

#include <functional>
#include <map>
#include <utility>

#include "tykhook/messages.h"
#include "tykhook/verifier.h"

namespace tykhook {

/// Calls the handler registered for a verified delivery's event with its typed Message.
/// Register before dispatching; dispatch() may then be called from many threads at once.
class Dispatcher {
 public:
  /// A handler of any delivery: it gets the verdict, with the envelope and the raw Message.
  using AnyHandler = std::function<void(const Verdict&)>;
  /// A typed handler of event E.
  template <Event E>
  using Handler = std::function<void(const message_t<E>&, const Verdict&)>;

  /// Registers the typed handler of event E, replacing an earlier one.
  template <Event E>
  Dispatcher& on(Handler<E> handler) {
    handlers_[E] = [handler = std::move(handler)](const Verdict& verdict) {
      auto message = read_message<E>(verdict.envelope->message);
      if (!message) throw Error(message.error);
      handler(*message, verdict);
    };
    return *this;
  }
  /// Registers an untyped handler of `event`, replacing an earlier one.
  Dispatcher& on(Event event, AnyHandler handler);
  /// Registers the handler of every delivery whose event has no handler of its own (unknown
  /// events that were allowed among them).
  Dispatcher& on_any(AnyHandler handler);

  /// Calls the handler for an ok verdict; returns false when no handler applies. Throws
  /// std::invalid_argument for a verdict that is not ok, tykhook::Error when the Message does
  /// not fit its struct, and whatever the handler throws.
  bool dispatch(const Verdict& verdict) const;

  /// True when no handler is registered: dispatch() then calls nothing.
  [[nodiscard]] bool empty() const { return handlers_.empty() && !any_; }

 private:
  std::map<Event, AnyHandler> handlers_;
  AnyHandler any_;
};

}  // namespace tykhook
