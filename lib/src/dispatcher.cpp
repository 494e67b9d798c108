#include "tykhook/dispatcher.h"

#include <stdexcept>
#include <string>

namespace tykhook {

Dispatcher& Dispatcher::on(Event event, AnyHandler handler) {
  handlers_[event] = std::move(handler);
  return *this;
}

Dispatcher& Dispatcher::on_any(AnyHandler handler) {
  any_ = std::move(handler);
  return *this;
}

bool Dispatcher::dispatch(const Verdict& verdict) const {
  // Only a delivery that passed every check may reach application code; anything else is a
  // caller that forgot to look at the verdict.
  if (!verdict.ok()) {
    throw std::invalid_argument("Dispatcher::dispatch: the verdict is " +
                                std::string(to_string(verdict.kind)) +
                                ", not ok; dispatch only verdicts whose ok() is true");
  }
  if (!verdict.envelope) {
    throw std::invalid_argument(
        "Dispatcher::dispatch: the verdict has no envelope; dispatch the verdict that "
        "Verifier::verify returned");
  }
  // An empty std::function counts as no registration, so on(event, nullptr) falls back to
  // on_any instead of throwing std::bad_function_call.
  if (verdict.event) {
    if (const auto found = handlers_.find(*verdict.event);
        found != handlers_.end() && found->second) {
      found->second(verdict);
      return true;
    }
  }
  if (!any_) return false;
  any_(verdict);
  return true;
}

}  // namespace tykhook
