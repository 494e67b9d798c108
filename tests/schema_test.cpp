#include "tykhook/schema.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "support/files.h"
#include "tykhook/error.h"
#include "tykhook/events.h"

namespace {

using nlohmann::json;
using tykhook::Event;
using tykhook::SchemaRegistry;

namespace fs = std::filesystem;
using tykhook::test::read_file;
using tykhook::test::TempDir;
using tykhook::test::write_file;

const fs::path schema_dir = fs::path(TYKHOOK_SOURCE_DIR) / "schemas";

// The draft-07 meta-schema as Debian's python3-jsonschema package ships it.
const fs::path draft7_meta_schema = "/usr/lib/python3/dist-packages/jsonschema/schemas/draft7.json";

// The documented sample of every event that has one, in the compact wire form (DESIGN.md).
struct Sample {
  std::string_view event;
  std::string_view body;
};
constexpr Sample samples[] =
    {
        {"UserRegistered",
         R"json({"Event":"UserRegistered","Message":{"ID":29,"Email":"developer@user.com","First":"FirstName","Last":"Lastname","OrgID":1,"Provider":"password","Status":"active","CreatedAt":"2024-04-22T16:38:54.068565+02:00","ByUser":1,"CustomAttributes":[{"Identifier":"company-name","Value":"ACME"}]},"Timestamp":"2024-04-22T16:38:54.082037+02:00"})json"},
        {"UserAccountActivated",
         R"json({"Event":"UserAccountActivated","Message":{"ID":7,"Email":"devD1@tyk.io","First":"Test","Last":"User","OrgID":7,"Provider":"password","Status":"active","CreatedAt":"2024-04-22T15:46:40.128398Z","ByUser":1,"CustomAttributes":[{"Identifier":"boolean-custom-attribute","Value":"false"}]},"Timestamp":"2024-04-22T17:52:22.673077+02:00"})json"},
        {"UserAccountDeactivated",
         R"json({"Event":"UserAccountDeactivated","Message":{"ID":7,"Email":"test@user.io","First":"Test","Last":"User","OrgID":7,"Provider":"password","Status":"inactive","CreatedAt":"2024-04-22T15:46:40.128398Z","ByUser":1,"CustomAttributes":[{"Identifier":"boolean-custom-attribute","Value":"false"}]},"Timestamp":"2024-04-22T17:51:22.24066+02:00"})json"},
        {"PasswordReset",
         R"json({"Event":"PasswordReset","Message":{"ID":7,"Email":"test@user.io","First":"Test","Last":"User","OrgID":7,"Provider":"password","Status":"active","CreatedAt":"2024-04-22T15:46:40.128398Z","CustomAttributes":[{"Identifier":"boolean-custom-attribute","Value":"false"}]},"Timestamp":"2024-04-22T17:58:10.223162+02:00"})json"},
        {"ApplicationRegistered",
         R"json({"Event":"ApplicationRegistered","Message":{"ID":1,"Name":"New App","UserID":1,"CreatedAt":"2024-04-18T13:29:23.738726+02:00"},"Timestamp":"2024-04-18T13:29:23.744826+02:00"})json"},
        {"CredentialRegistered",
         R"json({"Event":"CredentialRegistered","Message":{"ID":1,"ByUser":3,"AccessRequestID":1,"AppID":3,"CreatedAt":"2024-04-18T13:48:08.489611+02:00"},"Timestamp":"2024-04-18T13:48:08.494266+02:00"})json"},
        {"AccessRequestCreated",
         R"json({"Event":"AccessRequestCreated","Message":{"ID":0,"AppID":1,"ByUser":2,"Status":"approved","ProductIDs":[1],"PlanID":2,"CreatedAt":"0001-01-01T00:00:00Z"},"Timestamp":"2024-04-22T18:09:45.245357+02:00"})json"},
        {"AccessRequestApproved", R"json({"Event":"AccessRequestApproved","Message":{"ID":1,"AppID":3,"ByUser":3,"Status":"approved","ProductIDs":[1],"PlanID":2,"CreatedAt":"2024-04-18T13:36:02.769109+02:00"},"Timestamp":"2024-04-18T13:48:08.508925+02:00"})json"},
        {"AccessRequestRejected",
         R"json({"Event":"AccessRequestRejected","Message":{"ID":6,"AppID":7,"ByUser":3,"Status":"rejected","ProductIDs":[],"PlanID":2,"CreatedAt":"2024-04-18T14:40:15.81038+02:00"},"Timestamp":"2024-04-18T14:40:28.998297+02:00"})json"},
        {"OrganisationRegistered",
         R"json({"Event":"OrganisationRegistered","Message":{"ID":8,"Name":"Organisation added from Admin UI","CreatedAt":"2024-04-18T16:12:09.8437+02:00"},"Timestamp":"2024-04-18T16:12:09.849045+02:00"})json"},
        {"OrganisationRequestCreated",
         R"json({"Event":"OrganisationRequestCreated","Message":{"Name":"Organisation added from Live Portal (the become an org flow)","AdminEmail":"dev@tyk.io","AdminID":3,"ByUser":3,"TeamIDs":[],"Status":"pending","CreatedAt":"2024-04-18T16:13:50.766139+02:00"},"Timestamp":"2024-04-18T16:13:50.796234+02:00"})json"},
        {"OrganisationRequestApproved",
         R"json({"Event":"OrganisationRequestApproved","Message":{"ID":11,"Email":"dev@tyk.io","First":"Developer","Last":"User","OrgID":2,"Provider":"password","Status":"inactive","CreatedAt":"2024-04-24T15:26:04.312618088Z","CustomAttributes":[]},"Timestamp":"2024-04-24T15:26:04.329072196Z"})json"},
        {"OrganisationRequestRejected",
         R"json({"Event":"OrganisationRequestRejected","Message":{"Name":"ACME","AdminEmail":"dev@tyk.io","AdminID":17,"ByUser":17,"TeamIDs":[],"Status":"rejected","CreatedAt":"2024-04-18T16:27:34.012613+02:00"},"Timestamp":"2024-04-18T16:27:50.504654+02:00"})json"},
};

Event event_of(const Sample& sample) { return tykhook::parse_event(sample.event).value(); }

json message_of(const Sample& sample) { return json::parse(sample.body).at("Message"); }

// The documented Message of `event`, which must have a sample.
json message_of(Event event) {
  for (const Sample& sample : samples) {
    if (event_of(sample) == event) return message_of(sample);
  }
  throw std::invalid_argument("no sample for " + std::string(tykhook::to_string(event)));
}

std::vector<std::string> errors_of(Event event, const json& message) {
  return SchemaRegistry::embedded()->validate(event, message);
}

// All errors in one string, for CAPTURE and for comparing a whole result at once.
std::string joined(const std::vector<std::string>& errors) {
  std::string text;
  for (const std::string& error : errors) text += error + "\n";
  return text;
}

std::string type_name(const json& value) {
  if (value.is_number_integer()) return "integer";
  if (value.is_string()) return "string";
  if (value.is_array()) return "array";
  return value.type_name();
}

// A value of another type than `value`'s.
json wrong_type_for(const json& value) {
  if (value.is_number_integer()) return "7";
  if (value.is_string()) return 7;
  return "x";
}

// A copy of schemas/ with the files named in `replaced` holding other text.
void copy_schemas(const fs::path& to, const std::map<std::string, std::string>& replaced = {}) {
  for (const Event event : tykhook::all_events()) {
    const std::string name = std::string(tykhook::to_string(event)) + ".schema.json";
    const auto other = replaced.find(name);
    write_file(to / name, other != replaced.end() ? other->second : read_file(schema_dir / name));
  }
}

// A registry whose every event has the schema `text`, to test the validator with schemas
// that the events do not use.
std::shared_ptr<const SchemaRegistry> registry_of(const fs::path& dir, std::string_view text) {
  for (const Event event : tykhook::all_events()) {
    write_file(dir / (std::string(tykhook::to_string(event)) + ".schema.json"), text);
  }
  return SchemaRegistry::from_directory(dir);
}

bool is_user_event(std::string_view event) {
  return event == "UserRegistered" || event == "UserAccountActivated" ||
         event == "UserAccountDeactivated" || event == "PasswordReset" ||
         event == "OrganisationRequestApproved";
}

}  // namespace

TEST_CASE("every documented sample's Message is valid against its event's schema") {
  for (const Sample& sample : samples) {
    CAPTURE(sample.event);
    CHECK(joined(errors_of(event_of(sample), message_of(sample))) == "");
  }
}

TEST_CASE("a documented field of the wrong type fails with its JSON pointer named") {
  int checked = 0;
  for (const Sample& sample : samples) {
    const json message = message_of(sample);
    for (const auto& item : message.items()) {
      // Named copies: CAPTURE's lambda cannot capture a structured binding (C++20, clang 14).
      const std::string field = item.key();
      const json& value = item.value();
      json changed = message;
      changed[field] = wrong_type_for(value);
      const std::string want = "/Message/" + field + ": expected " + type_name(value) + ", got " +
                               type_name(changed[field]) + "\n";
      CAPTURE(sample.event);
      CAPTURE(field);
      CHECK(joined(errors_of(event_of(sample), changed)) == want);
      ++checked;
    }
  }
  CHECK(checked == 95);
}

TEST_CASE("a Message without a field that every sample of its event carries fails naming it") {
  for (const Sample& sample : samples) {
    const json message = message_of(sample);
    for (const auto& item : message.items()) {
      // A named copy: CAPTURE's lambda cannot capture a structured binding (C++20, clang 14).
      const std::string field = item.key();
      json changed = message;
      changed.erase(field);
      CAPTURE(sample.event);
      CAPTURE(field);
      CHECK(joined(errors_of(event_of(sample), changed)) ==
            "/Message: missing required property \"" + field + "\"\n");
    }
  }
}

TEST_CASE("fields that the portal may add later are accepted, at the top and inside items") {
  for (const Sample& sample : samples) {
    json message = message_of(sample);
    message["AddedLater"] = {{"Nested", {1, "two", nullptr}}};
    message["Tags"] = json::array();
    if (message.contains("CustomAttributes")) {
      message["CustomAttributes"] = {{{"Identifier", "a"}, {"Value", "b"}, {"Kind", 3}}};
    }
    CAPTURE(sample.event);
    CHECK(joined(errors_of(event_of(sample), message)) == "");
  }
}

TEST_CASE("Go's zero time and every documented RFC 3339 form are accepted in CreatedAt") {
  const std::string_view times[] = {
      "0001-01-01T00:00:00Z",
      "2024-04-18T13:36:02Z",
      "2024-04-18T13:36:02.7+02:00",
      "2024-04-24T15:26:04.312618088Z",
      "2024-04-22T16:38:54.068565-07:30",
      "9999-12-31T23:59:59.999999999Z",
  };
  for (const Sample& sample : samples) {
    for (const std::string_view time : times) {
      json message = message_of(sample);
      message["CreatedAt"] = time;
      CAPTURE(sample.event);
      CAPTURE(time);
      CHECK(joined(errors_of(event_of(sample), message)) == "");
    }
  }
}

TEST_CASE("a CreatedAt that Go's RFC 3339 parser rejects fails, quoting the value") {
  const std::string_view times[] = {
      "yesterday",
      "",
      "2024-04-18 13:36:02Z",
      "2024-04-18t13:36:02Z",
      "2024-04-18T13:36:02z",
      "2024-04-18T13:36:60Z",
      "2024-04-18T24:00:00Z",
      "2024-04-18T13:36:02.Z",
      "2024-04-18T13:36:02",
      "2024-04-18T13:36:02+0200",
  };
  for (const Sample& sample : samples) {
    for (const std::string_view time : times) {
      json message = message_of(sample);
      message["CreatedAt"] = time;
      CAPTURE(sample.event);
      CAPTURE(time);
      CHECK(joined(errors_of(event_of(sample), message)) ==
            "/Message/CreatedAt: expected an RFC 3339 date-time, got \"" + std::string(time) +
                "\"\n");
    }
  }
}

TEST_CASE("a long bad date-time is cut short in the error") {
  json message = message_of(Event::UserRegistered);
  message["CreatedAt"] = std::string(100, 'x');
  CHECK(joined(errors_of(Event::UserRegistered, message)) ==
        "/Message/CreatedAt: expected an RFC 3339 date-time, got \"" + std::string(40, 'x') +
            "...\"\n");
}

TEST_CASE("a Status outside the documented set fails and lists the set") {
  for (const Sample& sample : samples) {
    json message = message_of(sample);
    if (!message.contains("Status")) continue;
    const std::string set = is_user_event(sample.event) ? R"("active", "inactive")"
                                                        : R"("pending", "approved", "rejected")";
    const std::string_view bad[] = {"banned", "Active", "APPROVED", ""};
    for (const std::string_view status : bad) {
      message["Status"] = status;
      CAPTURE(sample.event);
      CAPTURE(status);
      CHECK(joined(errors_of(event_of(sample), message)) ==
            "/Message/Status: expected one of " + set + ", got \"" + std::string(status) + "\"\n");
    }
  }
}

TEST_CASE("every Status in the documented set is accepted") {
  for (const Sample& sample : samples) {
    json message = message_of(sample);
    if (!message.contains("Status")) continue;
    const std::vector<std::string_view> good =
        is_user_event(sample.event)
            ? std::vector<std::string_view>{"active", "inactive"}
            : std::vector<std::string_view>{"pending", "approved", "rejected"};
    for (const std::string_view status : good) {
      message["Status"] = status;
      CAPTURE(sample.event);
      CAPTURE(status);
      CHECK(joined(errors_of(event_of(sample), message)) == "");
    }
  }
}

TEST_CASE("a negative ID fails, and 0 and the largest IDs pass") {
  int checked = 0;
  for (const Sample& sample : samples) {
    const json message = message_of(sample);
    for (const auto& item : message.items()) {
      // Named copies: CAPTURE's lambda cannot capture a structured binding (C++20, clang 14).
      const std::string field = item.key();
      const json& value = item.value();
      if (!value.is_number_integer()) continue;
      CAPTURE(sample.event);
      CAPTURE(field);
      json changed = message;
      changed[field] = -1;
      CHECK(joined(errors_of(event_of(sample), changed)) ==
            "/Message/" + field + ": expected a number >= 0, got -1\n");
      changed[field] = 1.5;
      CHECK(joined(errors_of(event_of(sample), changed)) ==
            "/Message/" + field + ": expected integer, got number\n");
      for (const json& good : {json(0), json(INT64_MAX), json(UINT64_MAX)}) {
        changed[field] = good;
        CHECK(joined(errors_of(event_of(sample), changed)) == "");
      }
      ++checked;
    }
  }
  CHECK(checked == 36);
}

TEST_CASE("arrays of IDs are checked item by item") {
  const struct {
    std::string_view name;
    Event event;
    std::string_view field;
    json value;
    std::string_view want;
  } cases[] = {
      {"many product IDs", Event::AccessRequestApproved, "ProductIDs", {0, 1, 2, 99}, ""},
      {"a negative product ID",
       Event::AccessRequestApproved,
       "ProductIDs",
       {1, -2},
       "/Message/ProductIDs/1: expected a number >= 0, got -2\n"},
      {"a product ID as text",
       Event::AccessRequestCreated,
       "ProductIDs",
       {"1"},
       "/Message/ProductIDs/0: expected integer, got string\n"},
      {"two bad product IDs",
       Event::AccessRequestRejected,
       "ProductIDs",
       {-1, nullptr},
       "/Message/ProductIDs/0: expected a number >= 0, got -1\n"
       "/Message/ProductIDs/1: expected integer, got null\n"},
      {"team IDs", Event::OrganisationRequestCreated, "TeamIDs", {3, 4}, ""},
      {"a team ID as an object", Event::OrganisationRequestRejected, "TeamIDs",
       // Not {json::object()}: clang reads that as a copy of the object, g++ as an array of it.
       json::array({json::object()}), "/Message/TeamIDs/0: expected integer, got object\n"},
  };
  for (const auto& c : cases) {
    json message = message_of(c.event);
    message[std::string(c.field)] = c.value;
    CAPTURE(c.name);
    CHECK(joined(errors_of(c.event, message)) == c.want);
  }
}

TEST_CASE("custom attributes are checked item by item") {
  const struct {
    std::string_view name;
    json attributes;
    std::string_view want;
  } cases[] = {
      {"none", json::array(), ""},
      {"two", R"([{"Identifier":"a","Value":""},{"Identifier":"b","Value":"c"}])"_json, ""},
      {"a boolean value", R"([{"Identifier":"a","Value":false}])"_json,
       "/Message/CustomAttributes/0/Value: expected string, got boolean\n"},
      {"no identifier", R"([{"Identifier":"a","Value":"b"},{"Value":"c"}])"_json,
       "/Message/CustomAttributes/1: missing required property \"Identifier\"\n"},
      {"not an object", R"(["a"])"_json,
       "/Message/CustomAttributes/0: expected object, got string\n"},
      {"an object, not an array", R"({"Identifier":"a","Value":"b"})"_json,
       "/Message/CustomAttributes: expected array, got object\n"},
  };
  for (const auto& c : cases) {
    json message = message_of(Event::UserRegistered);
    message["CustomAttributes"] = c.attributes;
    CAPTURE(c.name);
    CHECK(joined(errors_of(Event::UserRegistered, message)) == c.want);
  }
}

TEST_CASE("every violation of a Message is reported, each once") {
  json message = message_of(Event::UserRegistered);
  message["ID"] = "29";
  message.erase("Email");
  message["Status"] = "banned";
  message["CreatedAt"] = "yesterday";
  message["CustomAttributes"][0]["Value"] = 1;
  std::vector<std::string> errors = errors_of(Event::UserRegistered, message);
  std::sort(errors.begin(), errors.end());
  CHECK(joined(errors) ==
        "/Message/CreatedAt: expected an RFC 3339 date-time, got \"yesterday\"\n"
        "/Message/CustomAttributes/0/Value: expected string, got integer\n"
        "/Message/ID: expected integer, got string\n"
        "/Message/Status: expected one of \"active\", \"inactive\", got \"banned\"\n"
        "/Message: missing required property \"Email\"\n");
}

TEST_CASE("a Message that is not an object fails at /Message alone") {
  const struct {
    std::string_view name;
    json message;
    std::string_view want;
  } cases[] = {
      {"null", nullptr, "/Message: expected object, got null\n"},
      {"an array", json::array({1}), "/Message: expected object, got array\n"},
      {"a string", "x", "/Message: expected object, got string\n"},
      {"a number", 1.5, "/Message: expected object, got number\n"},
  };
  for (const auto& c : cases) {
    for (const Event event : {Event::UserRegistered, Event::RegisterInvite}) {
      CAPTURE(c.name);
      CAPTURE(tykhook::to_string(event));
      CHECK(joined(errors_of(event, c.message)) == c.want);
    }
  }
}

TEST_CASE("RegisterInvite has no documented payload and accepts any object") {
  const std::string_view messages[] = {
      "{}",
      R"({"Email":"new@user.io"})",
      R"({"Email":5,"CreatedAt":"yesterday","Status":"banned","ID":-1})",
  };
  for (const std::string_view text : messages) {
    CAPTURE(text);
    CHECK(joined(errors_of(Event::RegisterInvite, json::parse(text))) == "");
  }
}

TEST_CASE("validate never throws, whatever the Message holds") {
  json invalid_utf8 = message_of(Event::UserRegistered);
  invalid_utf8["Status"] = std::string("\xff\xfe", 2);
  json deep = 1;
  for (int i = 0; i < 200; ++i) deep = json::array({deep});
  json deep_message = message_of(Event::UserRegistered);
  deep_message["CustomAttributes"] = deep;
  const struct {
    std::string_view name;
    Event event;
    json message;
    std::string_view want;
  } cases[] = {
      {"invalid UTF-8 in an enum", Event::UserRegistered, invalid_utf8,
       "/Message/Status: expected one of \"active\", \"inactive\", got "
       "\"\xEF\xBF\xBD\xEF\xBF\xBD\"\n"},
      {"deeply nested arrays", Event::UserRegistered, deep_message,
       "/Message/CustomAttributes/0: expected object, got array\n"},
      {"an event number outside the catalogue", static_cast<Event>(99), json::object(),
       "/Message: no schema for event number 99\n"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    std::vector<std::string> errors;
    CHECK_NOTHROW(errors = errors_of(c.event, c.message));
    CHECK(joined(errors) == c.want);
  }
}

TEST_CASE("the embedded registry is built once and holds the files of schemas/") {
  const auto registry = SchemaRegistry::embedded();
  CHECK(registry == SchemaRegistry::embedded());
  for (const Event event : tykhook::all_events()) {
    const std::string name(tykhook::to_string(event));
    CAPTURE(name);
    CHECK(registry->schema(event) == json::parse(read_file(schema_dir / (name + ".schema.json"))));
    CHECK(registry->schema(event).at("$id") == "urn:tykhook:schema:" + name);
  }
  CHECK_THROWS_AS((void)registry->schema(static_cast<Event>(99)), std::invalid_argument);
}

TEST_CASE("every embedded schema compiles, valijson's form included") {
  // embedded() compiles a schema on its first use, so a broken one would only show then.
  const auto registry = SchemaRegistry::embedded();
  for (const Event event : tykhook::all_events()) {
    CAPTURE(tykhook::to_string(event));
    CHECK(registry->validate(event, json::array()) ==
          std::vector<std::string>{"/Message: expected object, got array"});
  }
}

TEST_CASE("every schema file is a self-contained draft-07 schema with a description throughout") {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(schema_dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  std::vector<std::string> want{"envelope.schema.json"};
  for (const Event event : tykhook::all_events()) {
    want.push_back(std::string(tykhook::to_string(event)) + ".schema.json");
  }
  std::sort(want.begin(), want.end());
  CHECK(names == want);

  for (const std::string& name : names) {
    const json schema = json::parse(read_file(schema_dir / name));
    const std::string stem = name.substr(0, name.find('.'));
    CAPTURE(name);
    CHECK(schema.at("$schema") == "http://json-schema.org/draft-07/schema#");
    CHECK(schema.at("$id") == "urn:tykhook:schema:" + stem);
    CHECK(schema.at("title").is_string());
    CHECK(schema.at("description").is_string());
    CHECK(schema.at("additionalProperties") == true);
    // Every property has a description, nested ones too, and no "$ref" leaves the file.
    std::vector<std::string> undescribed;
    std::string text = schema.dump();
    CHECK(text.find("\"$ref\"") == std::string::npos);
    const auto walk = [&](const auto& self, const json& node, const std::string& at) -> void {
      if (!node.is_object()) return;
      if (const auto items = node.find("items"); items != node.end())
        self(self, *items, at + "/items");
      const auto properties = node.find("properties");
      if (properties == node.end()) return;
      for (const auto& [field, child] : properties->items()) {
        if (!child.contains("description")) undescribed.push_back(at + "/" + field);
        self(self, child, at + "/" + field);
      }
    };
    walk(walk, schema, "");
    CHECK(joined(undescribed) == "");
  }
}

TEST_CASE("every schema file is valid against the draft-07 meta-schema") {
  // The meta-schema is loaded as the schema of every event, and each file is checked as a
  // Message: from_directory compiles it, and compiling each file below proves it loads.
  REQUIRE_MESSAGE(fs::exists(draft7_meta_schema), "install python3-jsonschema");
  TempDir meta;
  const auto registry = registry_of(meta.path(), read_file(draft7_meta_schema));
  for (const auto& entry : fs::directory_iterator(schema_dir)) {
    const json schema = json::parse(read_file(entry.path()));
    CAPTURE(entry.path().filename().string());
    CHECK(joined(registry->validate(Event::UserRegistered, schema)) == "");
    TempDir one;
    CHECK_NOTHROW((void)registry_of(one.path(), read_file(entry.path())));
  }
  // And the meta-schema does reject what is not a schema.
  CHECK(joined(registry->validate(Event::UserRegistered, json::parse(R"({"type":"integr"})"))) !=
        "");
  CHECK(joined(registry->validate(Event::UserRegistered, json::parse(R"({"required":"ID"})"))) ==
        "/Message/required: expected array, got string\n");
}

TEST_CASE("the envelope schema accepts every documented body and requires its three fields") {
  TempDir dir;
  const auto registry = registry_of(dir.path(), read_file(schema_dir / "envelope.schema.json"));
  for (const Sample& sample : samples) {
    CAPTURE(sample.event);
    CHECK(joined(registry->validate(Event::UserRegistered, json::parse(sample.body))) == "");
  }
  const struct {
    std::string_view name;
    std::string_view body;
    std::string_view want;
  } cases[] = {
      {"no Event", R"({"Message":{},"Timestamp":"2024-04-18T13:36:02Z"})",
       "/Message: missing required property \"Event\"\n"},
      {"no Message", R"({"Event":"X","Timestamp":"2024-04-18T13:36:02Z"})",
       "/Message: missing required property \"Message\"\n"},
      {"no Timestamp", R"({"Event":"X","Message":{}})",
       "/Message: missing required property \"Timestamp\"\n"},
      {"a Message array", R"({"Event":"X","Message":[],"Timestamp":"2024-04-18T13:36:02Z"})",
       "/Message/Message: expected object, got array\n"},
      {"an Event number", R"({"Event":1,"Message":{},"Timestamp":"2024-04-18T13:36:02Z"})",
       "/Message/Event: expected string, got integer\n"},
      {"a bad Timestamp", R"({"Event":"X","Message":{},"Timestamp":"2024-04-18"})",
       "/Message/Timestamp: expected an RFC 3339 date-time, got \"2024-04-18\"\n"},
      {"an unknown Event and an added field",
       R"({"Event":"X","Message":{},"Timestamp":"2024-04-18T13:36:02Z","Added":1})", ""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(joined(registry->validate(Event::UserRegistered, json::parse(c.body))) == c.want);
  }
}

TEST_CASE("from_directory loads schemas/ and validates like the embedded registry") {
  const auto registry = SchemaRegistry::from_directory(schema_dir);
  for (const Sample& sample : samples) {
    json message = message_of(sample);
    CAPTURE(sample.event);
    CHECK(joined(registry->validate(event_of(sample), message)) == "");
    message["CreatedAt"] = 5;
    CHECK(registry->validate(event_of(sample), message) == errors_of(event_of(sample), message));
  }
}

TEST_CASE("from_directory keeps the built-in schema of each event its directory lacks (#20)") {
  TempDir dir;
  const std::string strict = R"({"type":"object","required":["Nickname"]})";
  write_file(dir.path() / "UserRegistered.schema.json", strict);
  const auto registry = SchemaRegistry::from_directory(dir.path());
  CHECK(registry->built_in_events().size() == tykhook::all_events().size() - 1);
  CHECK(std::find(registry->built_in_events().begin(), registry->built_in_events().end(),
                  Event::UserRegistered) == registry->built_in_events().end());
  // The one file is used; every other event validates as with the embedded schemas.
  CHECK(joined(registry->validate(Event::UserRegistered, json::object())) ==
        "/Message: missing required property \"Nickname\"\n");
  for (const Sample& sample : samples) {
    if (sample.event == "UserRegistered") continue;
    CAPTURE(sample.event);
    json message = message_of(sample);
    CHECK(joined(registry->validate(event_of(sample), message)) == "");
    message["CreatedAt"] = 5;
    CHECK(registry->validate(event_of(sample), message) == errors_of(event_of(sample), message));
  }
  CHECK(SchemaRegistry::embedded()->built_in_events().empty());
}

TEST_CASE("from_directory throws tykhook::Error naming a missing or broken file") {
  TempDir missing;
  CHECK_THROWS_WITH_AS((void)SchemaRegistry::from_directory(missing.path() / "nowhere"),
                       doctest::Contains("nowhere: no such directory"), tykhook::Error);
  CHECK_THROWS_WITH_AS((void)SchemaRegistry::from_directory(missing.path()),
                       doctest::Contains(": holds no <WireEventName>.schema.json file"),
                       tykhook::Error);

  const struct {
    std::string_view name;
    std::string_view text;
    std::string_view want;
  } cases[] = {
      {"empty", "", "PasswordReset.schema.json: not valid JSON: "},
      {"not JSON", "{\"type\":", "PasswordReset.schema.json: not valid JSON: "},
      {"an array", "[]", "PasswordReset.schema.json: expected a JSON Schema"},
      {"a bad type", R"({"type":5})", "PasswordReset.schema.json: not a valid draft-07 schema: "},
      {"a bad minimum", R"({"minimum":"zero"})",
       "PasswordReset.schema.json: not a valid draft-07 schema: "},
      {"a reference to another file", R"({"properties":{"a":{"$ref":"other.schema.json"}}})",
       R"(PasswordReset.schema.json: "$ref" at /properties/a ("other.schema.json") points outside)"},
      {"a reference to a URN", R"({"$ref":"urn:x"})",
       R"(PasswordReset.schema.json: "$ref" at / ("urn:x") points outside the file)"},
      {"an empty reference", R"({"$ref":""})",
       R"(PasswordReset.schema.json: "$ref" at / ("") points outside the file)"},
      {"a reference to a missing definition", R"({"items":{"$ref":"#/definitions/nope"}})",
       R"(PasswordReset.schema.json: "$ref" at /items ("#/definitions/nope") does not lead)"},
      {"a reference to itself", R"({"$ref":"#"})",
       R"(PasswordReset.schema.json: "$ref" at / ("#") does not lead to a schema)"},
      {"a loop through allOf", R"({"allOf":[{"$ref":"#"}]})",
       R"(PasswordReset.schema.json: a "$ref" leads back to an enclosing schema)"},
      {"a loop through definitions",
       R"({"definitions":{"a":{"not":{"$ref":"#/definitions/b"}},"b":{"anyOf":[{"$ref":"#/definitions/a"}]}}})",
       R"(PasswordReset.schema.json: a "$ref" leads back to an enclosing schema)"},
  };
  for (const auto& c : cases) {
    TempDir dir;
    copy_schemas(dir.path(), {{"PasswordReset.schema.json", std::string(c.text)}});
    CAPTURE(c.name);
    CHECK_THROWS_WITH_AS((void)SchemaRegistry::from_directory(dir.path()),
                         doctest::Contains(std::string(c.want).c_str()), tykhook::Error);
  }

  TempDir dir;
  copy_schemas(dir.path());
  fs::remove(dir.path() / "UserRegistered.schema.json");
  fs::create_directory(dir.path() / "UserRegistered.schema.json");
  CHECK_THROWS_WITH_AS((void)SchemaRegistry::from_directory(dir.path()),
                       doctest::Contains("UserRegistered.schema.json: not a regular file"),
                       tykhook::Error);
}

TEST_CASE("JSON pointers escape ~ and / in property names (RFC 6901)") {
  TempDir dir;
  const auto registry = registry_of(dir.path(), R"({
    "properties": {
      "a/b~c": {"type": "integer"},
      "when/at": {"type": "string", "format": "date-time"}
    }
  })");
  CHECK(
      joined(registry->validate(Event::UserRegistered, R"({"a/b~c":"1","when/at":"now"})"_json)) ==
      "/Message/a~1b~0c: expected integer, got string\n"
      "/Message/when~1at: expected an RFC 3339 date-time, got \"now\"\n");
}

TEST_CASE("date-times are found through items, allOf and local references") {
  TempDir dir;
  const auto registry = registry_of(dir.path(), R"({
    "definitions": {"time": {"type": "string", "format": "date-time"}},
    "properties": {
      "Times": {"type": "array", "items": {"$ref": "#/definitions/time"}},
      "Pair": {"type": "array", "items": [{"type": "integer"}, {"format": "date-time"}]},
      "Both": {"allOf": [{"type": "string"}, {"format": "date-time"}]},
      "Enum": {"enum": [{"format": "date-time"}]}
    }
  })");
  const struct {
    std::string_view name;
    std::string_view message;
    std::string_view want;
  } cases[] = {
      {"all good",
       R"({"Times":["2024-04-18T13:36:02Z"],"Pair":[1,"2024-04-18T13:36:02Z"],
           "Both":"0001-01-01T00:00:00Z","Enum":{"format":"date-time"}})",
       ""},
      {"a bad item", R"({"Times":["2024-04-18T13:36:02Z","later"]})",
       "/Message/Times/1: expected an RFC 3339 date-time, got \"later\"\n"},
      {"a bad tuple item", R"({"Pair":["2024-04-18T13:36:02Z","later"]})",
       "/Message/Pair/0: expected integer, got string\n"
       "/Message/Pair/1: expected an RFC 3339 date-time, got \"later\"\n"},
      {"a bad allOf", R"({"Both":"later"})",
       "/Message/Both: expected an RFC 3339 date-time, got \"later\"\n"},
      {"an enum value is data, not a schema", R"({"Enum":{"format":"date"}})",
       "/Message/Enum: expected {\"format\":\"date-time\"}, got {\"format\":\"date\"}\n"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(joined(registry->validate(Event::UserRegistered, json::parse(c.message))) == c.want);
  }
}

TEST_CASE("a recursive schema validates nested values and names them by pointer") {
  TempDir dir;
  const auto registry = registry_of(dir.path(), R"({
    "properties": {"N": {"type": "integer"}, "Child": {"$ref": "#"}}
  })");
  CHECK(joined(registry->validate(Event::UserRegistered, R"({"Child":{"Child":{"N":1}}})"_json)) ==
        "");
  CHECK(joined(registry->validate(Event::UserRegistered,
                                  R"({"N":"a","Child":{"Child":{"N":"x"}}})"_json)) ==
        "/Message/Child/Child/N: expected integer, got string\n"
        "/Message/N: expected integer, got string\n");
}

TEST_CASE("violations of other keywords are worded from the schema and the value") {
  TempDir dir;
  const auto registry = registry_of(dir.path(), R"({
    "properties": {
      "Maybe": {"type": ["integer", "null"]},
      "Small": {"type": "number", "exclusiveMinimum": 0, "maximum": 10.5},
      "Kind": {"const": "user"},
      "Short": {"type": "string", "maxLength": 3},
      "Closed": {"type": "object", "properties": {"A": {}}, "additionalProperties": false}
    }
  })");
  const struct {
    std::string_view name;
    std::string_view message;
    std::string_view want;
  } cases[] = {
      {"all good", R"({"Maybe":null,"Small":10.5,"Kind":"user","Short":"abc","Closed":{"A":1}})",
       ""},
      {"a type list", R"({"Maybe":"1"})", "/Message/Maybe: expected integer or null, got string\n"},
      {"an exclusive minimum", R"({"Small":0})", "/Message/Small: expected a number > 0, got 0\n"},
      {"a maximum", R"({"Small":11})", "/Message/Small: expected a number <= 10.5, got 11\n"},
      {"a const", R"({"Kind":"admin"})", "/Message/Kind: expected \"user\", got \"admin\"\n"},
      {"a closed object", R"({"Closed":{"A":1,"B":2}})",
       "/Message/Closed: unexpected property \"B\"\n"},
      {"a keyword worded by valijson", R"({"Short":"abcd"})",
       "/Message/Short: string should be no more than 3 characters in length\n"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(joined(registry->validate(Event::UserRegistered, json::parse(c.message))) == c.want);
  }
}
