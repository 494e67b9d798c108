#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "tykhook/messages.h"
#include "tykhook/targets.h"
#include "tykhook/verifier.h"

namespace tykhook {

namespace {

// Why `message` does not fit the struct of `event`, as read_message<E> words it; "" when it fits.
std::string message_error(Event event, const nlohmann::json& message) {
  const auto error = [&message](auto read) { return read(message).error; };
  switch (event) {
    case Event::RegisterInvite:
      return error(read_invite_message);
    case Event::UserRegistered:
    case Event::UserAccountActivated:
    case Event::UserAccountDeactivated:
    case Event::PasswordReset:
    case Event::OrganisationRequestApproved:
      return error(read_user_message);
    case Event::ApplicationRegistered:
      return error(read_application_message);
    case Event::CredentialRegistered:
      return error(read_credential_message);
    case Event::AccessRequestCreated:
    case Event::AccessRequestApproved:
    case Event::AccessRequestRejected:
      return error(read_access_request_message);
    case Event::OrganisationRegistered:
      return error(read_organisation_message);
    case Event::OrganisationRequestCreated:
    case Event::OrganisationRequestRejected:
      return error(read_organisation_request_message);
  }
  return "";  // unreachable for a valid enumerator; -Wall flags a missing case above
}

class HandlerTarget final : public Target {
 public:
  explicit HandlerTarget(Dispatcher dispatcher) : dispatcher_(std::move(dispatcher)) {}

  AttemptResult attempt(const QueueEntry& entry) override {
    // The receiver verified the delivery before it was queued; the handler gets the verdict it
    // would have had then. No schema: that check was the receiver's, under its own options.
    Verdict verdict = check_body(entry.request.body, nullptr, true);
    if (!verdict.ok()) {
      const std::string why = verdict.errors.empty() ? "" : ": " + verdict.errors.front();
      return {AttemptOutcome::dead,
              "handler: the queued body is " + std::string(to_string(verdict.kind)) + why,
              std::nullopt};
    }
    verdict.idempotency_key = entry.key;
    try {
      dispatcher_.dispatch(verdict);
      return {};
    } catch (const GiveUp& e) {
      return {AttemptOutcome::dead, std::string("handler gave up: ") + e.what(), std::nullopt};
    } catch (const Error& e) {
      // The dispatcher throws tykhook::Error, worded as read_message<E> words it, before a typed
      // handler runs when the Message does not fit its struct: no retry changes the body. Any
      // other Error is the handler's own (its database gone) and may pass.
      if (verdict.event && e.what() == message_error(*verdict.event, verdict.envelope->message)) {
        return {AttemptOutcome::dead,
                "handler: the Message does not fit its struct: " + std::string(e.what()),
                std::nullopt};
      }
      return {AttemptOutcome::retry, std::string("handler failed: ") + e.what(), std::nullopt};
    } catch (const std::exception& e) {
      return {AttemptOutcome::retry, std::string("handler failed: ") + e.what(), std::nullopt};
    } catch (...) {
      return {AttemptOutcome::retry, "handler failed: it threw something that is not an exception",
              std::nullopt};
    }
  }

  std::string describe() const override { return "handler"; }

 private:
  Dispatcher dispatcher_;
};

}  // namespace

std::unique_ptr<Target> handler_target(Dispatcher dispatcher) {
  return std::make_unique<HandlerTarget>(std::move(dispatcher));
}

}  // namespace tykhook
