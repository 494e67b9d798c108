#include "tykhook/events.h"

#include <doctest/doctest.h>

#include <string>

using namespace tykhook;

TEST_CASE("every event's wire name parses back to the same event") {
  CHECK(all_events().size() == 14);
  for (const Event event : all_events()) {
    CAPTURE(std::string(to_string(event)));
    REQUIRE(parse_event(to_string(event)).has_value());
    CHECK(*parse_event(to_string(event)) == event);
  }
}

TEST_CASE("the four Organization spellings are aliases of the wire names") {
  const struct {
    std::string_view alias;
    std::string_view wire;
  } cases[] = {
      {"OrganizationRegistered", "OrganisationRegistered"},
      {"OrganizationRequestCreated", "OrganisationRequestCreated"},
      {"OrganizationRequestApproved", "OrganisationRequestApproved"},
      {"OrganizationRequestRejected", "OrganisationRequestRejected"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.alias);
    const auto event = parse_event(c.alias);
    REQUIRE(event.has_value());
    CHECK(to_string(*event) == c.wire);
    CHECK(alias_of(*event) == c.alias);
  }
  CHECK_FALSE(alias_of(Event::UserRegistered).has_value());
}

TEST_CASE("names outside the catalogue, in another case or padded, are not events") {
  const std::string_view names[] = {"",
                                    "userregistered",
                                    "USERREGISTERED",
                                    "UserRegistered ",
                                    " UserRegistered",
                                    "UserRegister",
                                    "OrganisationRegisteredX",
                                    "Organization"};
  for (const auto name : names) {
    CAPTURE(name);
    CHECK_FALSE(parse_event(name).has_value());
  }
  CHECK_FALSE(parse_event(std::string_view("UserRegistered\0", 15)).has_value());
}
