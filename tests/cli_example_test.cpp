// `tykhook example` end to end: the built binary, its exit status, stdout and stderr.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "cli_support.h"
#include "support/terminal.h"
#include "tykhook/events.h"
#include "tykhook/timestamp.h"

using namespace tykhook;
using namespace tykhook::test;

namespace {

// The offset and length of the top-level Timestamp value of a sample: Go writes it last.
struct Value {
  std::size_t offset;
  std::size_t size;
};
Value timestamp_in(const std::string& body) {
  const std::string key = "\"Timestamp\":\"";
  const std::size_t offset = body.rfind(key) + key.size();
  return {offset, body.find('"', offset) - offset};
}

}  // namespace

TEST_CASE("example prints each event's sample body byte for byte, by wire name or alias") {
  int count = 0;
  for (const Event event : all_events()) {
    if (event == Event::RegisterInvite) continue;
    std::vector<std::string> names = {std::string(to_string(event))};
    if (const auto alias = alias_of(event)) names.emplace_back(*alias);
    for (const auto& name : names) {
      CAPTURE(name);
      const Run run = run_tykhook({"example", name});
      CAPTURE(run.err);
      CHECK(run.status == 0);
      CHECK(run.err.empty());
      CHECK(run.out == source_file("samples/bodies/" + std::string(to_string(event)) + ".json"));
      ++count;
    }
  }
  CHECK(count == 17);
}

TEST_CASE(
    "example --fresh-timestamp puts the current time into Timestamp and keeps every other byte") {
  for (const std::string_view event : {"UserRegistered", "AccessRequestCreated",
                                       "OrganisationRequestApproved", "OrganizationRegistered"}) {
    CAPTURE(event);
    const std::string wire(to_string(*parse_event(event)));
    const std::string sample = source_file("samples/bodies/" + wire + ".json");
    const auto before = std::chrono::system_clock::now();
    const Run run = run_tykhook({"example", "--fresh-timestamp", std::string(event)});
    const auto after = std::chrono::system_clock::now();
    CAPTURE(run.out);
    CAPTURE(run.err);
    REQUIRE(run.status == 0);
    CHECK(run.err.empty());

    const Value old_value = timestamp_in(sample);
    const Value new_value = timestamp_in(run.out);
    CHECK(new_value.offset == old_value.offset);
    CHECK(run.out.substr(0, new_value.offset) == sample.substr(0, old_value.offset));
    CHECK(run.out.substr(new_value.offset + new_value.size) ==
          sample.substr(old_value.offset + old_value.size));
    const std::string stamp = run.out.substr(new_value.offset, new_value.size);
    CAPTURE(stamp);
    CHECK(stamp != sample.substr(old_value.offset, old_value.size));
    CHECK(stamp.back() == 'Z');  // UTC, as Go's RFC3339Nano writes it
    const auto parsed = parse_rfc3339(stamp);
    REQUIRE(parsed.ok());
    CHECK(format_rfc3339(*parsed) == stamp);
    CHECK(*parsed >= before - std::chrono::seconds(1));
    CHECK(*parsed <= after + std::chrono::seconds(1));

    // The CreatedAt inside Message, also a time, is left alone.
    CHECK(run.out.find(R"("CreatedAt":")") == sample.find(R"("CreatedAt":")"));

    const Run validated = run_tykhook({"schema", "validate", "-"}, run.out);
    CHECK(validated.status == 0);
    CHECK(validated.out == "-: ok (" + wire + ")\n");
  }
}

TEST_CASE("example ends with a newline at a terminal only; in a pipe the bytes are exact (#20)") {
  for (const std::string_view event : {"UserRegistered", "OrganizationRegistered"}) {
    CAPTURE(event);
    const std::string wire(to_string(*parse_event(event)));
    const std::string sample = source_file("samples/bodies/" + wire + ".json");
    REQUIRE(sample.back() == '}');  // the wire form has no final newline

    const Run piped = run_tykhook({"example", std::string(event)});
    CHECK(piped.status == 0);
    CHECK(piped.out == sample);

    const Run terminal = run_tykhook_at_terminal({"example", std::string(event)});
    CAPTURE(terminal.err);
    CHECK(terminal.status == 0);
    CHECK(terminal.err.empty());
    CHECK(terminal.out == sample + "\n");
  }
  // --fresh-timestamp likewise: one newline at a terminal, after the closing brace.
  const Run fresh = run_tykhook_at_terminal({"example", "--fresh-timestamp", "PasswordReset"});
  CHECK(fresh.status == 0);
  CHECK(fresh.out.ends_with("}\n"));
  CHECK_FALSE(fresh.out.ends_with("\n\n"));
}

TEST_CASE("example refuses events without a sample and names that are not events") {
  const struct {
    std::string_view name;
    std::vector<std::string> args;
    std::string_view message;
  } cases[] = {
      {"RegisterInvite has no documented payload",
       {"example", "RegisterInvite"},
       "tykhook example: RegisterInvite: no sample body"},
      {"the same with --fresh-timestamp",
       {"example", "--fresh-timestamp", "RegisterInvite"},
       "tykhook example: RegisterInvite: no sample body"},
      {"a made-up event",
       {"example", "UserDeleted"},
       "\"UserDeleted\" is not a portal event; use one of: RegisterInvite, UserRegistered"},
      {"the wrong case", {"example", "PASSWORDRESET"}, "is not a portal event"},
      {"no event", {"example"}, "event is required"},
      {"two events", {"example", "UserRegistered", "PasswordReset"}, "PasswordReset"},
      // verify's --now takes a time; example's flag has a name of its own (#20).
      {"the old flag", {"example", "--now", "UserRegistered"}, "--now"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const Run run = run_tykhook(c.args);
    CAPTURE(run.err);
    CHECK(run.status == 2);
    CHECK(run.out.empty());
    CHECK(run.err.find(c.message) != std::string::npos);
  }
}
