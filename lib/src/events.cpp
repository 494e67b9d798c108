#include "tykhook/events.h"

#include <array>
#include <string>

#include "embedded_schemas.h"

namespace tykhook {
namespace {

constexpr std::array events = {
    Event::RegisterInvite,
    Event::UserRegistered,
    Event::UserAccountActivated,
    Event::UserAccountDeactivated,
    Event::PasswordReset,
    Event::ApplicationRegistered,
    Event::CredentialRegistered,
    Event::AccessRequestCreated,
    Event::AccessRequestApproved,
    Event::AccessRequestRejected,
    Event::OrganisationRegistered,
    Event::OrganisationRequestCreated,
    Event::OrganisationRequestApproved,
    Event::OrganisationRequestRejected,
};

}  // namespace

std::string_view to_string(Event event) {
  switch (event) {
    case Event::RegisterInvite:
      return "RegisterInvite";
    case Event::UserRegistered:
      return "UserRegistered";
    case Event::UserAccountActivated:
      return "UserAccountActivated";
    case Event::UserAccountDeactivated:
      return "UserAccountDeactivated";
    case Event::PasswordReset:
      return "PasswordReset";
    case Event::ApplicationRegistered:
      return "ApplicationRegistered";
    case Event::CredentialRegistered:
      return "CredentialRegistered";
    case Event::AccessRequestCreated:
      return "AccessRequestCreated";
    case Event::AccessRequestApproved:
      return "AccessRequestApproved";
    case Event::AccessRequestRejected:
      return "AccessRequestRejected";
    case Event::OrganisationRegistered:
      return "OrganisationRegistered";
    case Event::OrganisationRequestCreated:
      return "OrganisationRequestCreated";
    case Event::OrganisationRequestApproved:
      return "OrganisationRequestApproved";
    case Event::OrganisationRequestRejected:
      return "OrganisationRequestRejected";
  }
  return "";  // unreachable for a valid enumerator; -Wall flags a missing case above
}

std::optional<std::string_view> alias_of(Event event) {
  // The documentation's event list spells these four with "z"; the wire uses "s" (DESIGN.md).
  switch (event) {
    case Event::OrganisationRegistered:
      return "OrganizationRegistered";
    case Event::OrganisationRequestCreated:
      return "OrganizationRequestCreated";
    case Event::OrganisationRequestApproved:
      return "OrganizationRequestApproved";
    case Event::OrganisationRequestRejected:
      return "OrganizationRequestRejected";
    case Event::RegisterInvite:
    case Event::UserRegistered:
    case Event::UserAccountActivated:
    case Event::UserAccountDeactivated:
    case Event::PasswordReset:
    case Event::ApplicationRegistered:
    case Event::CredentialRegistered:
    case Event::AccessRequestCreated:
    case Event::AccessRequestApproved:
    case Event::AccessRequestRejected:
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<Event> parse_event(std::string_view name) {
  for (const Event event : events) {
    if (name == to_string(event) || name == alias_of(event)) return event;
  }
  return std::nullopt;
}

std::span<const Event> all_events() { return events; }

std::optional<std::string_view> sample_body(Event event) {
  const std::string file_name = std::string(to_string(event)) + ".json";
  for (const auto& file : detail::embedded_samples()) {
    if (file.name == file_name) return file.text;
  }
  return std::nullopt;
}

}  // namespace tykhook
