#include "tykhook/envelope.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

using namespace tykhook;

namespace {

const std::string user_registered =
    R"({"Event":"UserRegistered","Message":{"ID":29,"Email":"developer@user.com"},)"
    R"("Timestamp":"2024-04-22T16:38:54.082037+02:00"})";

std::string failure_name(const EnvelopeResult& result) {
  if (result.envelope) return "ok";
  return result.failure == EnvelopeFailure::malformed_json ? "malformed_json" : "invalid_envelope";
}

}  // namespace

TEST_CASE("a wire-form body is read into event, message and timestamp") {
  const auto result = parse_envelope(user_registered);
  REQUIRE(result.envelope.has_value());
  CHECK(result.error.empty());
  CHECK(result.envelope->event_name == "UserRegistered");
  CHECK(result.envelope->event == Event::UserRegistered);
  CHECK(result.envelope->message.at("ID") == 29);
  CHECK(result.envelope->timestamp_text == "2024-04-22T16:38:54.082037+02:00");
  CHECK(result.envelope->timestamp == *parse_rfc3339("2024-04-22T16:38:54.082037+02:00"));
}

TEST_CASE("an alias is read as its wire event, and an unknown event keeps its raw name") {
  const auto alias = parse_envelope(
      R"({"Event":"OrganizationRegistered","Message":{},"Timestamp":"2024-04-18T16:12:09Z"})");
  REQUIRE(alias.envelope.has_value());
  CHECK(alias.envelope->event == Event::OrganisationRegistered);
  CHECK(alias.envelope->event_name == "OrganizationRegistered");
  const auto unknown =
      parse_envelope(R"({"Event":"SomethingNew","Message":{},"Timestamp":"2024-04-18T16:12:09Z"})");
  REQUIRE(unknown.envelope.has_value());
  CHECK_FALSE(unknown.envelope->event.has_value());
  CHECK(unknown.envelope->event_name == "SomethingNew");
}

TEST_CASE("bodies that are not JSON, or not one object of the right shape, are refused") {
  const struct {
    std::string_view name;
    std::string body;
    std::string_view want;
    std::string_view message;
  } cases[] = {
      {"empty", "", "malformed_json", "body byte 0"},
      {"not JSON", "hello", "malformed_json", "body byte"},
      {"truncated", user_registered.substr(0, 40), "malformed_json", "body byte"},
      {"trailing garbage", user_registered + "x", "malformed_json", "body byte"},
      {"invalid UTF-8 in a string", "{\"Event\":\"\xff\"}", "malformed_json", "UTF-8"},
      {"overlong UTF-8 encoding", "{\"Event\":\"\xc0\xaf\"}", "malformed_json", "UTF-8"},
      {"NUL byte outside strings", std::string("{\"Event\":1}\0", 12), "malformed_json",
       "body byte"},
      {"65 levels of nesting", std::string(65, '[') + std::string(65, ']'), "malformed_json",
       "deeper than 64"},
      {"100 000 levels of nesting", std::string(100000, '['), "malformed_json", "deeper than 64"},
      {"a repeated name", R"({"Event":"A","Event":"B","Message":{},"Timestamp":"x"})",
       "malformed_json", "\"Event\" appears twice"},
      {"a repeated name inside Message",
       R"({"Event":"A","Message":{"ID":1,"ID":2},"Timestamp":"2024-04-18T16:12:09Z"})",
       "malformed_json", "\"ID\" appears twice"},
      {"an array", "[]", "invalid_envelope", "expected an object"},
      {"a string", "\"UserRegistered\"", "invalid_envelope", "got string"},
      {"no Event", R"({"Message":{},"Timestamp":"2024-04-18T16:12:09Z"})", "invalid_envelope",
       "/Event: missing"},
      {"Event a number", R"({"Event":1,"Message":{},"Timestamp":"2024-04-18T16:12:09Z"})",
       "invalid_envelope", "/Event: expected string, got integer"},
      {"no Message", R"({"Event":"UserRegistered","Timestamp":"2024-04-18T16:12:09Z"})",
       "invalid_envelope", "/Message: missing"},
      {"Message an array",
       R"({"Event":"UserRegistered","Message":[],"Timestamp":"2024-04-18T16:12:09Z"})",
       "invalid_envelope", "/Message: expected object, got array"},
      {"Message null",
       R"({"Event":"UserRegistered","Message":null,"Timestamp":"2024-04-18T16:12:09Z"})",
       "invalid_envelope", "/Message: expected object, got null"},
      {"no Timestamp", R"({"Event":"UserRegistered","Message":{}})", "invalid_envelope",
       "/Timestamp: missing"},
      {"Timestamp a number", R"({"Event":"UserRegistered","Message":{},"Timestamp":1713450729})",
       "invalid_envelope", "/Timestamp: expected string, got integer"},
      {"Timestamp not RFC 3339",
       R"({"Event":"UserRegistered","Message":{},"Timestamp":"yesterday"})", "invalid_envelope",
       "/Timestamp: byte"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto result = parse_envelope(c.body);
    CHECK(failure_name(result) == c.want);
    CHECK(result.error.find(c.message) != std::string::npos);
  }
}

TEST_CASE("nesting of exactly 64 levels passes the depth limit and 65 levels does not") {
  const std::string inner = std::string(63, '[') + std::string(63, ']');
  const auto result = parse_envelope(R"({"Event":"UserRegistered","Message":{"Deep":)" + inner +
                                     R"(},"Timestamp":"2024-04-18T16:12:09Z"})");
  CHECK(failure_name(result) == "malformed_json");  // 65 with the body and Message objects
  const std::string fits = std::string(62, '[') + std::string(62, ']');
  const auto ok = parse_envelope(R"({"Event":"UserRegistered","Message":{"Deep":)" + fits +
                                 R"(},"Timestamp":"2024-04-18T16:12:09Z"})");
  CHECK(failure_name(ok) == "ok");
}

TEST_CASE("brackets inside strings do not count towards the depth") {
  const std::string brackets(200, '[');
  const auto result = parse_envelope(R"({"Event":"UserRegistered","Message":{"Name":")" + brackets +
                                     R"(\"["},"Timestamp":"2024-04-18T16:12:09Z"})");
  CHECK(failure_name(result) == "ok");
}

TEST_CASE("parser messages quote at most 40 bytes of the body, escaped (fuzz: envelope)") {
  // tests/fuzz/regressions/envelope/invalid-utf8-in-name.json: the parser's message quoted the
  // bytes it had read, raw, so an invalid byte made the message itself invalid UTF-8, and a long
  // string or number was copied into it whole.
  const struct {
    std::string_view name;
    std::string body;
    std::string_view message;
  } cases[] = {
      {"an invalid byte in a name", "{\"Produ\xc2t\":1}", "last read: '\"Produ\\xc2t'"},
      {"a 1 MiB string with an invalid byte",
       "{\"Event\":\"" + std::string(1 << 20, 'x') + "\xff\"}",
       "last read: '\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'"},
      {"an integer of 10 000 digits", "{\"ID\":" + std::string(10000, '9') + "}",
       "number overflow parsing '9999999999999999999999999999999999999999...'"},
      {"a name with a line break, twice", R"({"a\nb":1,"a\nb":2})",
       R"(object member "a\nb" appears twice)"},
      {"a long name with a character across byte 40, twice",
       "{\"" + std::string(39, 'n') + "\xc3\xa9\":1,\"" + std::string(39, 'n') + "\xc3\xa9\":2}",
       "object member \"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...\" appears twice"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto result = parse_envelope(c.body);
    CHECK(failure_name(result) == "malformed_json");
    CAPTURE(result.error);
    CHECK(result.error.find(c.message) != std::string::npos);
    CHECK(result.error.size() < 300);
    CHECK(std::all_of(result.error.begin(), result.error.end(),
                      [](char ch) { return ch >= 0x20 && ch < 0x7f; }));
  }
}
