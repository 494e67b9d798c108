// `tykhook schema` end to end: the built binary, its exit status, stdout and stderr.
#include <doctest/doctest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli_support.h"
#include "tykhook/events.h"

using namespace tykhook;
using namespace tykhook::test;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

const std::string broken_id =
    R"({"Event":"ApplicationRegistered","Message":{"ID":"1","Name":"New App","UserID":1,)"
    R"("CreatedAt":"2024-04-18T13:29:23.738726+02:00"},"Timestamp":"2024-04-18T13:29:23.744826+02:00"})";

}  // namespace

TEST_CASE("schema list prints the 14 events with their 4 aliases and schema files, aligned") {
  const Run run = run_tykhook({"schema", "list"});
  CAPTURE(run.err);
  CHECK(run.status == 0);
  CHECK(run.err.empty());
  const auto lines = lines_of(run.out);
  REQUIRE(lines.size() == 14);
  int aliases = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    CAPTURE(line);
    std::istringstream columns(line);
    std::string name, alias, file, more;
    columns >> name >> alias >> file >> more;
    CHECK(name == to_string(all_events()[i]));
    CHECK(alias == std::string(alias_of(all_events()[i]).value_or("-")));
    CHECK(file == name + ".schema.json");
    CHECK(more.empty());
    if (alias != "-") ++aliases;
    // Aligned: each column starts where it starts on the first line.
    const auto alias_column = [](const std::string& text) {
      return text.find_first_not_of(' ', text.find(' '));
    };
    CHECK(alias_column(line) == alias_column(lines[0]));
    CHECK(line.rfind(' ') == lines[0].rfind(' '));
  }
  CHECK(aliases == 4);
}

TEST_CASE("schema show prints each event's schema as JSON, by wire name or alias") {
  std::vector<std::string> names;
  for (const Event event : all_events()) names.emplace_back(to_string(event));
  for (const Event event : all_events()) {
    if (const auto alias = alias_of(event)) names.emplace_back(*alias);
  }
  CHECK(names.size() == 18);
  for (const auto& name : names) {
    CAPTURE(name);
    const Run run = run_tykhook({"schema", "show", name});
    CAPTURE(run.err);
    CHECK(run.status == 0);
    CHECK(run.err.empty());
    const std::string wire(to_string(*parse_event(name)));
    const auto printed = nlohmann::json::parse(run.out, nullptr, false);
    REQUIRE_FALSE(printed.is_discarded());
    CHECK(printed.at("title") == wire + " Message");
    CHECK(printed == nlohmann::json::parse(source_file("schemas/" + wire + ".schema.json")));
  }
}

TEST_CASE("schema show refuses a name that is not an event, listing the names") {
  const struct {
    std::string_view name;
    std::vector<std::string> args;
  } cases[] = {
      {"a made-up event", {"schema", "show", "UserDeleted"}},
      {"the wrong case", {"schema", "show", "userregistered"}},
      {"a trailing space", {"schema", "show", "UserRegistered "}},
      {"an empty name", {"schema", "show", ""}},
      {"no name at all", {"schema", "show"}},
      {"no action", {"schema"}},
      {"an unknown action", {"schema", "print", "UserRegistered"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const Run run = run_tykhook(c.args);
    CAPTURE(run.err);
    CHECK(run.status == 2);
    CHECK(run.out.empty());
    CHECK_FALSE(run.err.empty());
  }
  const Run run = run_tykhook({"schema", "show", "UserDeleted"});
  CHECK(run.err.find("\"UserDeleted\" is not a portal event; use one of: RegisterInvite, "
                     "UserRegistered") != std::string::npos);
  CHECK(run.err.find("OrganizationRequestRejected") != std::string::npos);
  // A near miss is named (#20): the case, a typo, a swap of two letters, the other spelling.
  const struct {
    std::string_view typed;
    std::string_view meant;
  } near[] = {
      {"userregistered", "UserRegistered"},
      {"UserRegisterd", "UserRegistered"},
      {"UserRegsitered", "UserRegistered"},
      {"organizationregistered", "OrganizationRegistered"},
      {"AccessRequestAprooved", "AccessRequestApproved"},
  };
  for (const auto& c : near) {
    CAPTURE(c.typed);
    const Run miss = run_tykhook({"schema", "show", std::string(c.typed)});
    CHECK(miss.status == 2);
    CHECK(miss.err.find("\"" + std::string(c.typed) + "\" is not a portal event (did you mean " +
                        std::string(c.meant) + "? names are case-sensitive); use one of:") !=
          std::string::npos);
  }
  // Nothing is suggested when nothing is close, or two names are equally close.
  for (const std::string far : {"Deleted", "x", "AccessRequestXxxxxxxx"}) {
    CAPTURE(far);
    const Run miss = run_tykhook({"schema", "show", far});
    CHECK(miss.status == 2);
    CHECK(miss.err.find("did you mean") == std::string::npos);
  }
}

TEST_CASE("schema validate passes every sample body, one line per file") {
  std::vector<std::string> args = {"schema", "validate"};
  std::string want;
  for (const auto& entry :
       std::filesystem::directory_iterator(TYKHOOK_SOURCE_DIR "/samples/bodies")) {
    args.push_back(entry.path().string());
    want += entry.path().string() + ": ok (" + entry.path().stem().string() + ")\n";
  }
  CHECK(args.size() == 15);
  const Run run = run_tykhook(args);
  CAPTURE(run.err);
  CHECK(run.status == 0);
  CHECK(run.err.empty());
  CHECK(run.out == want);
}

TEST_CASE("schema validate names the verdict and the place of what is wrong in a body") {
  const std::string body = source_file("samples/bodies/UserRegistered.json");
  std::string alias_body = source_file("samples/bodies/OrganisationRegistered.json");
  alias_body.replace(alias_body.find("Organisation"), 12, "Organization");
  const struct {
    std::string_view name;
    std::string body;
    std::string_view want;
  } cases[] = {
      {"a sample", body, "ok (UserRegistered)"},
      {"an alias", alias_body, "ok (OrganisationRegistered)"},
      {"a newline after the body", body + "\n", "ok (UserRegistered)"},
      {"an unknown future member",
       R"({"Event":"OrganisationRegistered","Message":{"ID":8,"Name":"x","Later":[1],)"
       R"("CreatedAt":"2024-04-18T16:12:09Z"},"Timestamp":"2024-04-18T16:12:09Z"})",
       "ok (OrganisationRegistered)"},
      {"an ID of the wrong type", broken_id,
       "schema_violation (ApplicationRegistered): /Message/ID: expected integer, got string"},
      {"a missing member",
       R"({"Event":"OrganisationRegistered","Message":{"ID":8,"CreatedAt":"2024-04-18T16:12:09Z"},)"
       R"("Timestamp":"2024-04-18T16:12:09Z"})",
       "schema_violation (OrganisationRegistered): /Message: missing required property"},
      {"not JSON", "Event: UserRegistered\n", "malformed_json: "},
      {"no Timestamp", R"({"Event":"UserRegistered","Message":{}})", "invalid_envelope: "},
      {"an unknown event",
       R"({"Event":"UserDeleted","Message":{},"Timestamp":"2024-04-18T16:12:09Z"})",
       "unknown_event (UserDeleted): /Event: \"UserDeleted\" is not a portal event"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    TempDir dir;
    const std::string path = dir.write("body.json", c.body);
    const Run run = run_tykhook({"schema", "validate", path});
    CAPTURE(run.out);
    CAPTURE(run.err);
    CHECK(run.status == (c.want.substr(0, 3) == "ok " ? 0 : 1));
    CHECK(run.out.find(path + ": " + std::string(c.want)) == 0);
    CHECK(run.err.empty());
  }
}

TEST_CASE("schema validate recognises a captured request and points to verify (#20)") {
  TempDir dir;
  const std::string raw = TYKHOOK_SOURCE_DIR "/samples/captures/UserRegistered.http";
  const auto har = dir.write(
      "one.har", R"({"log":{"version":"1.2","entries":[{"request":{"method":"POST","url":)"
                 R"("http://h/","headers":[],"postData":{"text":"{}"}}}]}})");
  for (const std::string& path : {raw, har}) {
    CAPTURE(path);
    const Run run = run_tykhook({"schema", "validate", path});
    CAPTURE(run.out);
    CHECK(run.status == 1);
    CHECK(run.out.find(path + ": ") == 0);
    CHECK(run.out.find("this is a captured request, not a bare body; check it (signature and "
                       "all) with `tykhook verify " +
                       path + "`") != std::string::npos);
  }
  // A body that is not JSON, and one without Event, are not captures: no such hint.
  for (const std::string body : {"not json", R"({"Message":{}})"}) {
    const Run run = run_tykhook({"schema", "validate"}, body);
    CHECK(run.status == 1);
    CHECK(run.out.find("captured request") == std::string::npos);
  }
}

TEST_CASE("schema validate --format json prints verify's fields, one object per body") {
  TempDir dir;
  const std::string good = dir.write("good.json", source_file("samples/bodies/PasswordReset.json"));
  const std::string bad = dir.write("bad.json", broken_id);
  const std::string junk = dir.write("junk.json", "\xff\xfe not json");
  const Run run = run_tykhook({"schema", "validate", "--format", "json", good, bad, junk});
  CAPTURE(run.err);
  CHECK(run.status == 1);
  const auto lines = lines_of(run.out);
  REQUIRE(lines.size() == 3);
  const auto first = nlohmann::json::parse(lines[0]);
  CHECK(first == nlohmann::json{{"input", good},
                                {"ok", true},
                                {"verdict", "ok"},
                                {"event", "PasswordReset"},
                                {"errors", nlohmann::json::array()}});
  const auto second = nlohmann::json::parse(lines[1]);
  CHECK(second.at("verdict") == "schema_violation");
  CHECK(second.at("event") == "ApplicationRegistered");
  CHECK(second.at("errors") ==
        nlohmann::json::array({"/Message/ID: expected integer, got string"}));
  const auto third = nlohmann::json::parse(lines[2]);
  CHECK(third.at("verdict") == "malformed_json");
  CHECK(third.at("event").is_null());
  CHECK(third.at("ok") == false);
}

TEST_CASE("schema validate reads standard input for - or no file") {
  const std::string body = source_file("samples/bodies/CredentialRegistered.json");
  for (const auto& args : {std::vector<std::string>{"schema", "validate"},
                           std::vector<std::string>{"schema", "validate", "-"}}) {
    CAPTURE(args.size());
    const Run run = run_tykhook(args, body);
    CHECK(run.status == 0);
    CHECK(run.out == "-: ok (CredentialRegistered)\n");
  }
}

TEST_CASE("schema validate: an unreadable file is exit 2, the other files are still checked") {
  TempDir dir;
  const std::string good =
      dir.write("good.json", source_file("samples/bodies/UserRegistered.json"));
  const std::string bad = dir.write("bad.json", broken_id);
  const std::string missing = (dir.path() / "missing.json").string();
  const Run run = run_tykhook({"schema", "validate", missing, good, bad});
  CHECK(run.status == 2);
  CHECK(run.err.find("tykhook schema validate: " + missing) == 0);
  CHECK(run.out == good + ": ok (UserRegistered)\n" + bad +
                       ": schema_violation (ApplicationRegistered): /Message/ID: expected "
                       "integer, got string\n");
  const Run directory = run_tykhook({"schema", "validate", dir.path().string()});
  CHECK(directory.status == 2);
  CHECK(directory.out.empty());
}

TEST_CASE("schema validate --schemas DIR checks against the schemas of DIR") {
  TempDir dir;
  for (const Event event : all_events()) {
    const std::string name = std::string(to_string(event)) + ".schema.json";
    auto schema = nlohmann::json::parse(source_file("schemas/" + name));
    if (event == Event::UserRegistered) schema["required"].push_back("Nickname");
    dir.write(name, schema.dump(2));
  }
  const std::string body =
      dir.write("body.json", source_file("samples/bodies/UserRegistered.json"));
  const Run strict = run_tykhook({"schema", "validate", "--schemas", dir.path().string(), body});
  CHECK(strict.status == 1);
  CHECK(strict.out.find("schema_violation (UserRegistered): /Message: missing required property "
                        "\"Nickname\"") != std::string::npos);
  const Run builtin = run_tykhook({"schema", "validate", body});
  CHECK(builtin.status == 0);

  const Run missing =
      run_tykhook({"schema", "validate", "--schemas", (dir.path() / "nowhere").string(), body});
  CHECK(missing.status == 2);
  CHECK(missing.out.empty());
  CHECK(missing.err.find("nowhere: no such directory") != std::string::npos);

  // A directory with one event's schema: the others keep theirs, and the command says so (#20).
  TempDir one;
  one.write("UserRegistered.schema.json", source_file("schemas/UserRegistered.schema.json"));
  const Run others = run_tykhook({"schema", "validate", "--schemas", one.path().string(),
                                  TYKHOOK_SOURCE_DIR "/samples/bodies/PasswordReset.json"});
  CHECK(others.status == 0);
  CHECK(others.err.find("tykhook schema validate: --schemas " + one.path().string() +
                        ": no file for 13 of 14 events, which keep their built-in schema: "
                        "RegisterInvite, UserAccountActivated") != std::string::npos);
}
