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
  std::string identifier;  ///< `Identifier`: the attribute's name, e.g. "company-name"
  std::string value;       ///< `Value`
};

/// The Message of the user events: UserRegistered, UserAccountActivated,
/// UserAccountDeactivated, PasswordReset and OrganisationRequestApproved.
struct UserMessage {
  std::int64_t id = 0;      ///< `ID`: the user's
  std::string email;        ///< `Email`
  std::string first;        ///< `First`: the first name
  std::string last;         ///< `Last`: the last name
  std::int64_t org_id = 0;  ///< `OrgID`: the user's organisation
  std::string provider;     ///< `Provider`: how the user signs in, e.g. "password"
  std::string status;       ///< `Status`: "active" or "inactive"
  TimePoint created_at{};   ///< `CreatedAt`
  std::optional<std::int64_t>
      by_user;  ///< absent from PasswordReset and OrganisationRequestApproved
  std::vector<CustomAttribute> custom_attributes;   ///< `CustomAttributes`, in order
  nlohmann::json extra = nlohmann::json::object();  ///< members this struct does not name
};

/// The Message of ApplicationRegistered.
struct ApplicationMessage {
  std::int64_t id = 0;                              ///< `ID`: the application's
  std::string name;                                 ///< `Name`
  std::int64_t user_id = 0;                         ///< `UserID`: the user who owns it
  TimePoint created_at{};                           ///< `CreatedAt`
  nlohmann::json extra = nlohmann::json::object();  ///< members this struct does not name
};

/// The Message of CredentialRegistered.
struct CredentialMessage {
  std::int64_t id = 0;                 ///< `ID`: the credential's
  std::int64_t by_user = 0;            ///< `ByUser`: the user who caused it
  std::int64_t access_request_id = 0;  ///< `AccessRequestID`: the request it was issued for
  std::int64_t app_id = 0;             ///< `AppID`: the application it belongs to
  TimePoint created_at{};              ///< `CreatedAt`
  nlohmann::json extra = nlohmann::json::object();  ///< members this struct does not name
};

/// The Message of AccessRequestCreated, AccessRequestApproved and AccessRequestRejected.
struct AccessRequestMessage {
  std::int64_t id = 0;                    ///< `ID`: the access request's
  std::int64_t app_id = 0;                ///< `AppID`: the application that asks
  std::int64_t by_user = 0;               ///< `ByUser`: the user who caused the event
  std::string status;                     ///< `Status`: "pending", "approved" or "rejected"
  std::vector<std::int64_t> product_ids;  ///< `ProductIDs`: the products asked for
  std::int64_t plan_id = 0;               ///< `PlanID`: the plan asked for
  TimePoint created_at{};                 ///< `CreatedAt`
  nlohmann::json extra = nlohmann::json::object();  ///< members this struct does not name
};

/// The Message of OrganisationRegistered.
struct OrganisationMessage {
  std::int64_t id = 0;                              ///< `ID`: the organisation's
  std::string name;                                 ///< `Name`
  TimePoint created_at{};                           ///< `CreatedAt`
  nlohmann::json extra = nlohmann::json::object();  ///< members this struct does not name
};

/// The Message of OrganisationRequestCreated and OrganisationRequestRejected.
struct OrganisationRequestMessage {
  std::string name;                    ///< `Name`: of the organisation asked for
  std::string admin_email;             ///< `AdminEmail`: of its would-be admin
  std::int64_t admin_id = 0;           ///< `AdminID`: the would-be admin's user ID
  std::int64_t by_user = 0;            ///< `ByUser`: the user who caused the event
  std::vector<std::int64_t> team_ids;  ///< `TeamIDs`
  std::string status;                  ///< `Status`: "pending", "approved" or "rejected"
  TimePoint created_at{};              ///< `CreatedAt`
  nlohmann::json extra = nlohmann::json::object();  ///< members this struct does not name
};

/// The Message of RegisterInvite, which has no documented payload: every member, as sent.
struct InviteMessage {
  nlohmann::json fields = nlohmann::json::object();  ///< the Message object, as sent
};

/// Maps an event to the struct of its Message: `message_t<Event::UserRegistered>` is UserMessage.
template <Event E>
struct message_of;
/// The struct of event E's Message: `message_t<Event::UserRegistered>` is UserMessage.
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
///@{
[[nodiscard]] Parsed<UserMessage> read_user_message(const nlohmann::json& message);
[[nodiscard]] Parsed<ApplicationMessage> read_application_message(const nlohmann::json& message);
[[nodiscard]] Parsed<CredentialMessage> read_credential_message(const nlohmann::json& message);
[[nodiscard]] Parsed<AccessRequestMessage> read_access_request_message(
    const nlohmann::json& message);
[[nodiscard]] Parsed<OrganisationMessage> read_organisation_message(const nlohmann::json& message);
[[nodiscard]] Parsed<OrganisationRequestMessage> read_organisation_request_message(
    const nlohmann::json& message);
[[nodiscard]] Parsed<InviteMessage> read_invite_message(const nlohmann::json& message);
///@}

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
