#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "tykhook/error.h"
#include "tykhook/events.h"
#include "tykhook/timestamp.h"

namespace tykhook {

/// One of a user's custom attributes, as the portal's admin defined them.
struct CustomAttribute {
  std::string identifier;
  std::string value;
};

/// The Message of the user events: UserRegistered, UserAccountActivated,
/// UserAccountDeactivated, PasswordReset and OrganisationRequestApproved.
struct UserMessage {
  std::int64_t id = 0;
  std::string email;
  std::string first;
  std::string last;
  std::int64_t org_id = 0;
  std::string provider;
  std::string status;
  TimePoint created_at{};
  std::optional<std::int64_t>
      by_user;  ///< absent from PasswordReset and OrganisationRequestApproved
  std::vector<CustomAttribute> custom_attributes;
  nlohmann::json extra = nlohmann::json::object();  ///< members this struct does not name
};

/// The Message of ApplicationRegistered.
struct ApplicationMessage {
  std::int64_t id = 0;
  std::string name;
  std::int64_t user_id = 0;
  TimePoint created_at{};
  nlohmann::json extra = nlohmann::json::object();  ///< members this struct does not name
};

/// The Message of CredentialRegistered.
struct CredentialMessage {
  std::int64_t id = 0;
  std::int64_t by_user = 0;
  std::int64_t access_request_id = 0;
  std::int64_t app_id = 0;
  TimePoint created_at{};
  nlohmann::json extra = nlohmann::json::object();  ///< members this struct does not name
};

/// The Message of AccessRequestCreated, AccessRequestApproved and AccessRequestRejected.
struct AccessRequestMessage {
  std::int64_t id = 0;
  std::int64_t app_id = 0;
  std::int64_t by_user = 0;
  std::string status;
  std::vector<std::int64_t> product_ids;
  std::int64_t plan_id = 0;
  TimePoint created_at{};
  nlohmann::json extra = nlohmann::json::object();  ///< members this struct does not name
};

/// The Message of OrganisationRegistered.
struct OrganisationMessage {
  std::int64_t id = 0;
  std::string name;
  TimePoint created_at{};
  nlohmann::json extra = nlohmann::json::object();  ///< members this struct does not name
};

/// The Message of OrganisationRequestCreated and OrganisationRequestRejected.
struct OrganisationRequestMessage {
  std::string name;
  std::string admin_email;
  std::int64_t admin_id = 0;
  std::int64_t by_user = 0;
  std::vector<std::int64_t> team_ids;
  std::string status;
  TimePoint created_at{};
  nlohmann::json extra = nlohmann::json::object();  ///< members this struct does not name
};

/// The Message of RegisterInvite, which has no documented payload: every member, as sent.
struct InviteMessage {
  nlohmann::json fields = nlohmann::json::object();
};

/// Maps an event to the struct of its Message: `message_t<Event::UserRegistered>` is UserMessage.
template <Event E>
struct message_of;
template <Event E>
using message_t = typename message_of<E>::type;

// clang-format off
template <> struct message_of<Event::RegisterInvite> { using type = InviteMessage; };
template <> struct message_of<Event::UserRegistered> { using type = UserMessage; };
template <> struct message_of<Event::UserAccountActivated> { using type = UserMessage; };
template <> struct message_of<Event::UserAccountDeactivated> { using type = UserMessage; };
template <> struct message_of<Event::PasswordReset> { using type = UserMessage; };
template <> struct message_of<Event::ApplicationRegistered> { using type = ApplicationMessage; };
template <> struct message_of<Event::CredentialRegistered> { using type = CredentialMessage; };
template <> struct message_of<Event::AccessRequestCreated> { using type = AccessRequestMessage; };
template <> struct message_of<Event::AccessRequestApproved> { using type = AccessRequestMessage; };
template <> struct message_of<Event::AccessRequestRejected> { using type = AccessRequestMessage; };
template <> struct message_of<Event::OrganisationRegistered> { using type = OrganisationMessage; };
template <> struct message_of<Event::OrganisationRequestCreated> { using type = OrganisationRequestMessage; };
template <> struct message_of<Event::OrganisationRequestApproved> { using type = UserMessage; };
template <> struct message_of<Event::OrganisationRequestRejected> { using type = OrganisationRequestMessage; };
// clang-format on

/// Fill a typed struct from a Message object. Members missing from `message` keep their
/// defaults; a member of the wrong type is an error "/Message/ID: expected integer, got string".
[[nodiscard]] Parsed<UserMessage> read_user_message(const nlohmann::json& message);
[[nodiscard]] Parsed<ApplicationMessage> read_application_message(const nlohmann::json& message);
[[nodiscard]] Parsed<CredentialMessage> read_credential_message(const nlohmann::json& message);
[[nodiscard]] Parsed<AccessRequestMessage> read_access_request_message(
    const nlohmann::json& message);
[[nodiscard]] Parsed<OrganisationMessage> read_organisation_message(const nlohmann::json& message);
[[nodiscard]] Parsed<OrganisationRequestMessage> read_organisation_request_message(
    const nlohmann::json& message);
[[nodiscard]] Parsed<InviteMessage> read_invite_message(const nlohmann::json& message);

/// Fills the struct of event E from its Message (see the read_*_message functions).
template <Event E>
[[nodiscard]] Parsed<message_t<E>> read_message(const nlohmann::json& message) {
  using T = message_t<E>;
  if constexpr (std::is_same_v<T, UserMessage>) return read_user_message(message);
  if constexpr (std::is_same_v<T, ApplicationMessage>) return read_application_message(message);
  if constexpr (std::is_same_v<T, CredentialMessage>) return read_credential_message(message);
  if constexpr (std::is_same_v<T, AccessRequestMessage>)
    return read_access_request_message(message);
  if constexpr (std::is_same_v<T, OrganisationMessage>) return read_organisation_message(message);
  if constexpr (std::is_same_v<T, OrganisationRequestMessage>) {
    return read_organisation_request_message(message);
  }
  if constexpr (std::is_same_v<T, InviteMessage>) return read_invite_message(message);
}

}  // namespace tykhook
