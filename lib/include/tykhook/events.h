#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace tykhook {

/// The portal's events, spelled as on the wire (DESIGN.md, "Events").
enum class Event {
  RegisterInvite,
  UserRegistered,
  UserAccountActivated,
  UserAccountDeactivated,
  PasswordReset,
  ApplicationRegistered,
  CredentialRegistered,
  AccessRequestCreated,
  AccessRequestApproved,
  AccessRequestRejected,
  OrganisationRegistered,
  OrganisationRequestCreated,
  OrganisationRequestApproved,
  OrganisationRequestRejected,
};

/// Another name for Event, for code that reads better with it (`on(EventType::UserRegistered, f)`).
using EventType = Event;

/// Returns the wire name of `event`.
[[nodiscard]] std::string_view to_string(Event event);

/// Looks up a wire name or a documented alias (the "Organization*" spellings); case-sensitive.
/// Returns nullopt for a name that is not in the catalogue.
[[nodiscard]] std::optional<Event> parse_event(std::string_view name);

/// Returns the documented alias of `event` ("OrganizationRegistered"), or nullopt when it has none.
[[nodiscard]] std::optional<std::string_view> alias_of(Event event);

/// Returns the documented sample body of `event` in wire form (compact, as the portal's Go
/// encoder writes it), embedded at build time from samples/bodies/; nullopt for RegisterInvite,
/// which has no documented payload.
[[nodiscard]] std::optional<std::string_view> sample_body(Event event);

/// Every event of the catalogue, in DESIGN.md's order.
[[nodiscard]] std::span<const Event> all_events();

}  // namespace tykhook
