#include "tykhook/messages.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "json_error_text.h"

namespace tykhook {
namespace {

using nlohmann::json;

// Errors name a place in the body, as the schema's errors do (schema.h).
constexpr std::string_view message_pointer = "/Message";
// A value quoted in an error is cut to this many bytes: enough to recognise it, short enough
// for one log line.
constexpr std::size_t max_quoted_bytes = 40;

// A string as it appears in an error: JSON text, cut short. A json built by hand may hold
// invalid UTF-8, which is replaced rather than thrown on.
std::string quoted(const std::string& text) {
  std::size_t end = std::min(text.size(), max_quoted_bytes);
  while (end < text.size() && end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
    --end;  // do not split a UTF-8 sequence
  }
  std::string shown =
      json(text.substr(0, end)).dump(-1, ' ', false, json::error_handler_t::replace);
  if (end < text.size()) shown.insert(shown.size() - 1, "...");
  return shown;
}

std::string mismatch(const std::string& at, std::string_view expected, const json& value) {
  return at + ": expected " + std::string(expected) + ", got " +
         std::string(detail::json_type_name(value));
}

// Each convert() fills `out` from `value`, found at the JSON pointer `at`, and returns an empty
// string, or the error "<pointer>: <what>" and leaves `out` as it may be. Declared first, so
// that the templates below see every overload.
std::string convert(const json& value, const std::string& at, std::int64_t& out);
std::string convert(const json& value, const std::string& at, std::string& out);
std::string convert(const json& value, const std::string& at, TimePoint& out);
std::string convert(const json& value, const std::string& at, CustomAttribute& out);
template <class T>
std::string convert(const json& value, const std::string& at, std::optional<T>& out);
template <class T>
std::string convert(const json& value, const std::string& at, std::vector<T>& out);

// Reads the members of one JSON object into the fields of a struct, by wire name, and keeps the
// members that no read() named. The first member of the wrong type ends the reading: later
// reads only record their names.
class MemberReader {
 public:
  MemberReader(const json& object, std::string at) : object_(object), at_(std::move(at)) {
    if (!object_.is_object()) error_ = mismatch(at_, "object", object_);
  }

  /// Fills `field` from the member `name`; a missing member leaves `field` as it was.
  template <class T>
  MemberReader& read(std::string_view name, T& field) {
    named_.push_back(name);
    if (!error_.empty()) return *this;
    if (const auto member = object_.find(name); member != object_.end()) {
      error_ = convert(*member, at_ + "/" + std::string(name), field);
    }
    return *this;
  }

  /// The first error, or an empty string.
  const std::string& error() const { return error_; }

  /// The members that no read() named.
  json extra() const {
    json extra = json::object();
    if (!object_.is_object()) return extra;
    for (const auto& [key, value] : object_.items()) {
      if (std::find(named_.begin(), named_.end(), key) == named_.end()) extra[key] = value;
    }
    return extra;
  }

  /// `message` with its extra members, or the first error.
  template <class T>
  Parsed<T> finish(T message) const {
    if (!error_.empty()) return Parsed<T>::failure(error_);
    message.extra = extra();
    return Parsed<T>{std::move(message), {}};
  }

 private:
  const json& object_;
  std::string at_;
  std::vector<std::string_view> named_;
  std::string error_;
};

std::string convert(const json& value, const std::string& at, std::int64_t& out) {
  if (value.is_number_unsigned()) {
    const auto number = value.get<std::uint64_t>();
    constexpr auto largest = std::numeric_limits<std::int64_t>::max();
    if (number > static_cast<std::uint64_t>(largest)) {
      return at + ": integer " + value.dump() + " is out of range; expected at most " +
             std::to_string(largest);
    }
    out = static_cast<std::int64_t>(number);
    return {};
  }
  // A float such as 1.0 is no integer to the schema either (valijson reads its type).
  if (!value.is_number_integer()) return mismatch(at, "integer", value);
  out = value.get<std::int64_t>();
  return {};
}

std::string convert(const json& value, const std::string& at, std::string& out) {
  if (!value.is_string()) return mismatch(at, "string", value);
  out = value.get_ref<const std::string&>();
  return {};
}

std::string convert(const json& value, const std::string& at, TimePoint& out) {
  if (!value.is_string()) return mismatch(at, "string", value);
  const auto& text = value.get_ref<const std::string&>();
  // The same parser as for `Timestamp`: Go's zero time saturates to TimePoint::min().
  auto time = parse_rfc3339(text);
  if (!time)
    return at + ": expected an RFC 3339 date-time, got " + quoted(text) + ": " + time.error;
  out = *time;
  return {};
}

std::string convert(const json& value, const std::string& at, CustomAttribute& out) {
  MemberReader reader(value, at);
  reader.read("Identifier", out.identifier).read("Value", out.value);
  return reader.error();
}

template <class T>
std::string convert(const json& value, const std::string& at, std::optional<T>& out) {
  T converted{};
  std::string error = convert(value, at, converted);
  if (error.empty()) out = std::move(converted);
  return error;
}

template <class T>
std::string convert(const json& value, const std::string& at, std::vector<T>& out) {
  if (!value.is_array()) return mismatch(at, "array", value);
  std::vector<T> items(value.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    std::string error = convert(value[i], at + "/" + std::to_string(i), items[i]);
    if (!error.empty()) return error;
  }
  out = std::move(items);
  return {};
}

}  // namespace

Parsed<UserMessage> read_user_message(const nlohmann::json& message) {
  UserMessage user;
  MemberReader reader(message, std::string(message_pointer));
  reader.read("ID", user.id)
      .read("Email", user.email)
      .read("First", user.first)
      .read("Last", user.last)
      .read("OrgID", user.org_id)
      .read("Provider", user.provider)
      .read("Status", user.status)
      .read("CreatedAt", user.created_at)
      .read("ByUser", user.by_user)
      .read("CustomAttributes", user.custom_attributes);
  return reader.finish(std::move(user));
}

Parsed<ApplicationMessage> read_application_message(const nlohmann::json& message) {
  ApplicationMessage application;
  MemberReader reader(message, std::string(message_pointer));
  reader.read("ID", application.id)
      .read("Name", application.name)
      .read("UserID", application.user_id)
      .read("CreatedAt", application.created_at);
  return reader.finish(std::move(application));
}

Parsed<CredentialMessage> read_credential_message(const nlohmann::json& message) {
  CredentialMessage credential;
  MemberReader reader(message, std::string(message_pointer));
  reader.read("ID", credential.id)
      .read("ByUser", credential.by_user)
      .read("AccessRequestID", credential.access_request_id)
      .read("AppID", credential.app_id)
      .read("CreatedAt", credential.created_at);
  return reader.finish(std::move(credential));
}

Parsed<AccessRequestMessage> read_access_request_message(const nlohmann::json& message) {
  AccessRequestMessage request;
  MemberReader reader(message, std::string(message_pointer));
  reader.read("ID", request.id)
      .read("AppID", request.app_id)
      .read("ByUser", request.by_user)
      .read("Status", request.status)
      .read("ProductIDs", request.product_ids)
      .read("PlanID", request.plan_id)
      .read("CreatedAt", request.created_at);
  return reader.finish(std::move(request));
}

Parsed<OrganisationMessage> read_organisation_message(const nlohmann::json& message) {
  OrganisationMessage organisation;
  MemberReader reader(message, std::string(message_pointer));
  reader.read("ID", organisation.id)
      .read("Name", organisation.name)
      .read("CreatedAt", organisation.created_at);
  return reader.finish(std::move(organisation));
}

Parsed<OrganisationRequestMessage> read_organisation_request_message(
    const nlohmann::json& message) {
  OrganisationRequestMessage request;
  MemberReader reader(message, std::string(message_pointer));
  reader.read("Name", request.name)
      .read("AdminEmail", request.admin_email)
      .read("AdminID", request.admin_id)
      .read("ByUser", request.by_user)
      .read("TeamIDs", request.team_ids)
      .read("Status", request.status)
      .read("CreatedAt", request.created_at);
  return reader.finish(std::move(request));
}

Parsed<InviteMessage> read_invite_message(const nlohmann::json& message) {
  // RegisterInvite has no documented payload: every member is kept as sent (DESIGN.md).
  if (!message.is_object()) {
    return Parsed<InviteMessage>::failure(
        mismatch(std::string(message_pointer), "object", message));
  }
  return Parsed<InviteMessage>{InviteMessage{.fields = message}, {}};
}

}  // namespace tykhook
