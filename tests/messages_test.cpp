#include "tykhook/messages.h"

#include <doctest/doctest.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "support/files.h"
#include "tykhook/envelope.h"

using namespace tykhook;
using nlohmann::json;
using tykhook::test::read_file;

namespace {

const std::filesystem::path bodies_dir =
    std::filesystem::path(TYKHOOK_SOURCE_DIR) / "samples/bodies";

// The Message of a sample body in samples/bodies/.
json sample_message(std::string_view event) {
  const auto body = read_file(bodies_dir / (std::string(event) + ".json"));
  const auto parsed = parse_envelope(body);
  REQUIRE(parsed.envelope.has_value());
  return parsed.envelope->message;
}

// ---- writing a struct back in wire form, to compare it with the Message it was read from ----
// Times are written in one canonical form (format_rfc3339), so the Message's own times are
// rewritten the same way before the comparison.

json wire_time(TimePoint t) { return format_rfc3339(t); }

json to_wire(const UserMessage& m) {
  json wire = m.extra;
  wire.update(json{{"ID", m.id},
                   {"Email", m.email},
                   {"First", m.first},
                   {"Last", m.last},
                   {"OrgID", m.org_id},
                   {"Provider", m.provider},
                   {"Status", m.status},
                   {"CreatedAt", wire_time(m.created_at)}});
  if (m.by_user) wire["ByUser"] = *m.by_user;
  wire["CustomAttributes"] = json::array();
  for (const auto& attribute : m.custom_attributes) {
    wire["CustomAttributes"].push_back(
        {{"Identifier", attribute.identifier}, {"Value", attribute.value}});
  }
  return wire;
}

json to_wire(const ApplicationMessage& m) {
  json wire = m.extra;
  wire.update(json{{"ID", m.id},
                   {"Name", m.name},
                   {"UserID", m.user_id},
                   {"CreatedAt", wire_time(m.created_at)}});
  return wire;
}

json to_wire(const CredentialMessage& m) {
  json wire = m.extra;
  wire.update(json{{"ID", m.id},
                   {"ByUser", m.by_user},
                   {"AccessRequestID", m.access_request_id},
                   {"AppID", m.app_id},
                   {"CreatedAt", wire_time(m.created_at)}});
  return wire;
}

json to_wire(const AccessRequestMessage& m) {
  json wire = m.extra;
  wire.update(json{{"ID", m.id},
                   {"AppID", m.app_id},
                   {"ByUser", m.by_user},
                   {"Status", m.status},
                   {"ProductIDs", m.product_ids},
                   {"PlanID", m.plan_id},
                   {"CreatedAt", wire_time(m.created_at)}});
  return wire;
}

json to_wire(const OrganisationMessage& m) {
  json wire = m.extra;
  wire.update(json{{"ID", m.id}, {"Name", m.name}, {"CreatedAt", wire_time(m.created_at)}});
  return wire;
}

json to_wire(const OrganisationRequestMessage& m) {
  json wire = m.extra;
  wire.update(json{{"Name", m.name},
                   {"AdminEmail", m.admin_email},
                   {"AdminID", m.admin_id},
                   {"ByUser", m.by_user},
                   {"TeamIDs", m.team_ids},
                   {"Status", m.status},
                   {"CreatedAt", wire_time(m.created_at)}});
  return wire;
}

json to_wire(const InviteMessage& m) { return m.fields; }

json canonical_times(json message) {
  if (const auto created = message.find("CreatedAt"); created != message.end()) {
    *created = format_rfc3339(*parse_rfc3339(created->get<std::string>()));
  }
  return message;
}

// What read_message<E> made of a Message: its error, its struct in wire form, and its extra.
struct ReadBack {
  std::string error;
  json wire;
  json extra;
};

template <Event E>
ReadBack read_back_as(const json& message) {
  const auto parsed = read_message<E>(message);
  if (!parsed) return {parsed.error, nullptr, nullptr};
  if constexpr (std::is_same_v<message_t<E>, InviteMessage>) {
    return {"", to_wire(*parsed), json::object()};
  } else {
    return {"", to_wire(*parsed), parsed->extra};
  }
}

// read_back_as<E> for an event known only at run time.
template <std::size_t... I>
ReadBack read_back(Event event, const json& message, std::index_sequence<I...>) {
  ReadBack result;
  ((event == static_cast<Event>(I) ? (result = read_back_as<static_cast<Event>(I)>(message), true)
                                   : false) ||
   ...);
  return result;
}

ReadBack read_back(Event event, const json& message) {
  return read_back(event, message, std::make_index_sequence<14>());
}

// The error of one of the read_*_message functions ("" on success).
template <auto Read>
std::string error_of(const json& message) {
  return Read(message).error;
}

}  // namespace

TEST_CASE("every sample body reads into its event's struct and writes back the same Message") {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(bodies_dir)) {
    const std::string name = entry.path().stem().string();
    CAPTURE(name);
    const auto parsed = parse_envelope(read_file(entry.path()));
    REQUIRE(parsed.envelope.has_value());
    REQUIRE(parsed.envelope->event.has_value());
    const json& message = parsed.envelope->message;
    const ReadBack back = read_back(*parsed.envelope->event, message);
    CHECK(back.error == "");
    CHECK(back.extra == json::object());  // the struct names every documented member
    CHECK(back.wire == canonical_times(message));
    ++count;
  }
  CHECK(count == 13);
}

TEST_CASE("the UserRegistered sample gives the documented values") {
  const auto user = read_message<Event::UserRegistered>(sample_message("UserRegistered"));
  REQUIRE(user.ok());
  CHECK(user->id == 29);
  CHECK(user->email == "developer@user.com");
  CHECK(user->first == "FirstName");
  CHECK(user->last == "Lastname");
  CHECK(user->org_id == 1);
  CHECK(user->provider == "password");
  CHECK(user->status == "active");
  CHECK(user->created_at == *parse_rfc3339("2024-04-22T16:38:54.068565+02:00"));
  CHECK(user->by_user == 1);
  REQUIRE(user->custom_attributes.size() == 1);
  CHECK(user->custom_attributes[0].identifier == "company-name");
  CHECK(user->custom_attributes[0].value == "ACME");
  CHECK(user->extra == json::object());
}

TEST_CASE("each kind of Message gives the values of its sample") {
  const auto reset = read_message<Event::PasswordReset>(sample_message("PasswordReset"));
  REQUIRE(reset.ok());
  CHECK(reset->id == 7);
  CHECK(reset->email == "test@user.io");
  CHECK_FALSE(reset->by_user.has_value());  // PasswordReset carries no ByUser
  CHECK(reset->created_at == *parse_rfc3339("2024-04-22T15:46:40.128398Z"));
  REQUIRE(reset->custom_attributes.size() == 1);
  CHECK(reset->custom_attributes[0].value == "false");

  const auto approved = read_message<Event::OrganisationRequestApproved>(
      sample_message("OrganisationRequestApproved"));
  REQUIRE(approved.ok());
  CHECK(approved->id == 11);
  CHECK(approved->status == "inactive");
  CHECK(approved->custom_attributes.empty());
  CHECK(approved->created_at == *parse_rfc3339("2024-04-24T15:26:04.312618088Z"));

  const auto application =
      read_message<Event::ApplicationRegistered>(sample_message("ApplicationRegistered"));
  REQUIRE(application.ok());
  CHECK(application->id == 1);
  CHECK(application->name == "New App");
  CHECK(application->user_id == 1);
  CHECK(application->created_at == *parse_rfc3339("2024-04-18T13:29:23.738726+02:00"));

  const auto credential =
      read_message<Event::CredentialRegistered>(sample_message("CredentialRegistered"));
  REQUIRE(credential.ok());
  CHECK(credential->id == 1);
  CHECK(credential->by_user == 3);
  CHECK(credential->access_request_id == 1);
  CHECK(credential->app_id == 3);

  const auto created =
      read_message<Event::AccessRequestCreated>(sample_message("AccessRequestCreated"));
  REQUIRE(created.ok());
  CHECK(created->id == 0);
  CHECK(created->app_id == 1);
  CHECK(created->by_user == 2);
  CHECK(created->product_ids == std::vector<std::int64_t>{1});
  CHECK(created->plan_id == 2);
  CHECK(created->created_at == TimePoint::min());  // Go's zero time 0001-01-01T00:00:00Z

  const auto rejected =
      read_message<Event::AccessRequestRejected>(sample_message("AccessRequestRejected"));
  REQUIRE(rejected.ok());
  CHECK(rejected->status == "rejected");
  CHECK(rejected->product_ids.empty());

  const auto organisation =
      read_message<Event::OrganisationRegistered>(sample_message("OrganisationRegistered"));
  REQUIRE(organisation.ok());
  CHECK(organisation->id == 8);
  CHECK(organisation->name == "Organisation added from Admin UI");

  const auto request =
      read_message<Event::OrganisationRequestCreated>(sample_message("OrganisationRequestCreated"));
  REQUIRE(request.ok());
  CHECK(request->admin_email == "dev@tyk.io");
  CHECK(request->admin_id == 3);
  CHECK(request->by_user == 3);
  CHECK(request->team_ids.empty());
  CHECK(request->status == "pending");
}

TEST_CASE("a member the struct does not name is kept in extra, for every event") {
  const json added = {{"Nested", {{"List", {1, 2}}}}};
  for (const auto& entry : std::filesystem::directory_iterator(bodies_dir)) {
    const std::string name = entry.path().stem().string();
    CAPTURE(name);
    json message = sample_message(name);
    message["FutureField"] = added;
    const ReadBack back = read_back(*parse_event(name), message);
    CHECK(back.error == "");
    CHECK(back.extra == json{{"FutureField", added}});
    CHECK(back.wire == canonical_times(message));
  }
  const auto invite = read_invite_message(json{{"Email", "new@user.io"}, {"Role", 2}});
  REQUIRE(invite.ok());
  CHECK(invite->fields == json{{"Email", "new@user.io"}, {"Role", 2}});
}

TEST_CASE("missing members keep the struct's defaults") {
  const auto user = read_user_message(json::object());
  REQUIRE(user.ok());
  CHECK(user->id == 0);
  CHECK(user->email == "");
  CHECK_FALSE(user->by_user.has_value());
  CHECK(user->created_at == TimePoint{});
  CHECK(user->custom_attributes.empty());
  CHECK(user->extra == json::object());

  const auto partial = read_access_request_message(json{{"ID", 4}});
  REQUIRE(partial.ok());
  CHECK(partial->id == 4);
  CHECK(partial->status == "");
  CHECK(partial->product_ids.empty());

  for (const auto& error : {error_of<read_user_message>(json::object()),
                            error_of<read_application_message>(json::object()),
                            error_of<read_credential_message>(json::object()),
                            error_of<read_access_request_message>(json::object()),
                            error_of<read_organisation_message>(json::object()),
                            error_of<read_organisation_request_message>(json::object()),
                            error_of<read_invite_message>(json::object())}) {
    CHECK(error == "");
  }
}

TEST_CASE("members of the wrong type are an error that names the member and both types") {
  using Reader = std::function<std::string(const json&)>;
  const Reader user = error_of<read_user_message>;
  const Reader access = error_of<read_access_request_message>;
  const Reader organisation_request = error_of<read_organisation_request_message>;
  const struct {
    std::string_view name;
    Reader read;
    json message;
    std::string_view want;
  } cases[] = {
      {"ID as a string", user, {{"ID", "29"}}, "/Message/ID: expected integer, got string"},
      {"ID as a fraction", user, {{"ID", 1.5}}, "/Message/ID: expected integer, got number"},
      {"ID as 1.0", user, json::parse(R"({"ID":1.0})"),
       "/Message/ID: expected integer, got number"},
      {"ID as a boolean", user, {{"ID", true}}, "/Message/ID: expected integer, got boolean"},
      {"ID beyond int64", user, json::parse(R"({"ID":18446744073709551615})"),
       "/Message/ID: integer 18446744073709551615 is out of range; expected at most "
       "9223372036854775807"},
      {"Email as a number", user, {{"Email", 5}}, "/Message/Email: expected string, got integer"},
      {"ByUser as null",
       user,
       {{"ByUser", nullptr}},
       "/Message/ByUser: expected integer, got null"},
      {"CreatedAt as a number",
       user,
       {{"CreatedAt", 5}},
       "/Message/CreatedAt: expected string, got integer"},
      {"CustomAttributes as an object",
       user,
       {{"CustomAttributes", json::object()}},
       "/Message/CustomAttributes: expected array, got object"},
      {"a custom attribute that is a number",
       user,
       {{"CustomAttributes", {5}}},
       "/Message/CustomAttributes/0: expected object, got integer"},
      {"a custom attribute's Identifier as a number",
       user,
       {{"CustomAttributes", {{{"Identifier", "a"}, {"Value", "b"}}, {{"Identifier", 1}}}}},
       "/Message/CustomAttributes/1/Identifier: expected string, got integer"},
      {"a product ID as a string",
       access,
       {{"ProductIDs", {1, "2"}}},
       "/Message/ProductIDs/1: expected integer, got string"},
      {"TeamIDs as null",
       organisation_request,
       {{"TeamIDs", nullptr}},
       "/Message/TeamIDs: expected array, got null"},
      {"Message as an array", user, json::array(), "/Message: expected object, got array"},
      {"Message as null, invite", error_of<read_invite_message>, nullptr,
       "/Message: expected object, got null"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(c.read(c.message) == c.want);
  }
}

TEST_CASE("a CreatedAt that is not an RFC 3339 time is an error that quotes it") {
  const struct {
    std::string_view name;
    std::string text;
    std::string_view want;
  } cases[] = {
      {"a word", "yesterday",
       R"(/Message/CreatedAt: expected an RFC 3339 date-time, got "yesterday": byte 0)"},
      {"hour 24", "2024-04-22T24:00:00Z", "hour"},
      {"lower-case t", "2024-04-22t16:38:54Z", "/Message/CreatedAt: expected an RFC 3339"},
      {"a long string is cut", std::string(100, '9'), R"(99999...": byte)"},
      {"invalid UTF-8 is replaced, not thrown on", "\xff\xfe", "/Message/CreatedAt: expected"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    std::string error;
    CHECK_NOTHROW(error = read_user_message(json{{"CreatedAt", c.text}}).error);
    CAPTURE(error);
    CHECK(error.find(c.want) != std::string::npos);
  }
}

TEST_CASE("values at the edges of their types are read as they are") {
  const struct {
    std::string_view name;
    std::string message;
    std::function<bool(const UserMessage&)> holds;
  } cases[] = {
      {"ID 0", R"({"ID":0})", [](const UserMessage& m) { return m.id == 0; }},
      {"a negative ID", R"({"ID":-1})", [](const UserMessage& m) { return m.id == -1; }},
      {"the largest int64", R"({"ID":9223372036854775807})",
       [](const UserMessage& m) { return m.id == std::numeric_limits<std::int64_t>::max(); }},
      {"the zero time", R"({"CreatedAt":"0001-01-01T00:00:00Z"})",
       [](const UserMessage& m) { return m.created_at == TimePoint::min(); }},
      {"nine fraction digits", R"({"CreatedAt":"2024-04-24T15:26:04.312618088Z"})",
       [](const UserMessage& m) {
         return m.created_at.time_since_epoch().count() % 1000000000 == 312618088;
       }},
      {"Go's escaping of <", R"({"Email":"a\u003cb@x.io"})",
       [](const UserMessage& m) { return m.email == "a<b@x.io"; }},
      {"an empty e-mail", R"({"Email":""})", [](const UserMessage& m) { return m.email.empty(); }},
      {"ByUser 0", R"({"ByUser":0})", [](const UserMessage& m) { return m.by_user == 0; }},
      {"no custom attributes", R"({"CustomAttributes":[]})",
       [](const UserMessage& m) { return m.custom_attributes.empty(); }},
      {"a custom attribute with a member of its own", R"({"CustomAttributes":[{"Kind":1}]})",
       [](const UserMessage& m) {
         return m.custom_attributes.size() == 1 && m.custom_attributes[0].identifier.empty();
       }},
      {"a repeated member, the last wins", R"({"ID":1,"ID":2})",
       [](const UserMessage& m) { return m.id == 2; }},
      {"a null unknown member goes to extra", R"({"Later":null})",
       [](const UserMessage& m) {
         return m.extra == json{{"Later", nullptr}};
       }},
      {"members are case-sensitive", R"({"id":5})",
       [](const UserMessage& m) {
         return m.id == 0 && m.extra == json{{"id", 5}};
       }},
      {"a UTF-8 name", R"({"First":"Zoë"})", [](const UserMessage& m) { return m.first == "Zoë"; }},
      {"a NUL inside a string", R"({"Last":"a\u0000b"})",
       [](const UserMessage& m) { return m.last == std::string("a\0b", 3); }},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto user = read_user_message(json::parse(c.message));
    CAPTURE(user.error);
    REQUIRE(user.ok());
    CHECK(c.holds(*user));
  }
}

TEST_CASE("no JSON value makes a reader throw") {
  json binary = json::binary({1, 2, 3});
  json discarded(json::value_t::discarded);
  json deep = json::array();
  for (int i = 0; i < 1000; ++i) deep = json::array({deep});
  const json inputs[] = {nullptr,
                         true,
                         1,
                         -1,
                         1.5,
                         "text",
                         json::array(),
                         binary,
                         discarded,
                         deep,
                         json{{"ID", binary}},
                         json{{"CustomAttributes", deep}},
                         json{{"ProductIDs", deep}},
                         json{{"Email", "\xff"}}};
  for (const auto& input : inputs) {
    CAPTURE(std::string_view(input.type_name()));
    CHECK_NOTHROW((void)read_user_message(input));
    CHECK_NOTHROW((void)read_application_message(input));
    CHECK_NOTHROW((void)read_credential_message(input));
    CHECK_NOTHROW((void)read_access_request_message(input));
    CHECK_NOTHROW((void)read_organisation_message(input));
    CHECK_NOTHROW((void)read_organisation_request_message(input));
    CHECK_NOTHROW((void)read_invite_message(input));
  }
}
