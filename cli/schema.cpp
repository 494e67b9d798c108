#include "tykhook/schema.h"

#include <algorithm>
#include <iostream>
#include <string_view>

#include "commands.h"
#include "output.h"
#include "suggest.h"
#include "tykhook/capture.h"
#include "tykhook/verifier.h"

namespace tykhook::cli {
namespace {

std::string schema_file_name(Event event) { return std::string(to_string(event)) + ".schema.json"; }

// The names `event_check()` accepts, for its error: every wire name, then every alias.
std::string event_names() {
  std::string names;
  for (const Event event : all_events()) {
    names += (names.empty() ? "" : ", ") + std::string(to_string(event));
  }
  for (const Event event : all_events()) {
    if (const auto alias = alias_of(event)) names += ", " + std::string(*alias);
  }
  return names;
}

// Whether `bytes` is a capture of a whole request (raw HTTP, a tykhook JSON capture or a HAR
// file) rather than a bare body: read as captures, it gives requests whose bodies differ from it.
bool is_capture(std::string_view bytes, std::string_view input) {
  const auto captures = read_captures(bytes, input);
  return !captures.empty() && std::all_of(captures.begin(), captures.end(), [&](const Capture& c) {
    return c.request && c.request->body != bytes;
  });
}

int run_list() {
  std::size_t name_width = 0;
  std::size_t alias_width = 1;  // "-"
  for (const Event event : all_events()) {
    name_width = std::max(name_width, to_string(event).size());
    alias_width = std::max(alias_width, alias_of(event).value_or("-").size());
  }
  for (const Event event : all_events()) {
    const std::string_view name = to_string(event);
    const std::string_view alias = alias_of(event).value_or("-");
    std::cout << name << std::string(name_width - name.size() + 2, ' ') << alias
              << std::string(alias_width - alias.size() + 2, ' ') << schema_file_name(event)
              << '\n';
  }
  std::cout.flush();
  return std::cout ? exit_ok : exit_usage;
}

int run_show(const SchemaOptions& options) {
  // event_check() let only catalogue names through.
  const std::string_view text = SchemaRegistry::embedded_text(*parse_event(options.event));
  std::cout << text;
  if (!text.empty() && text.back() != '\n') std::cout << '\n';
  std::cout.flush();
  return std::cout ? exit_ok : exit_usage;
}

int run_validate(const SchemaOptions& options) {
  const auto schemas = options.schemas_dir.empty()
                           ? SchemaRegistry::embedded()
                           : SchemaRegistry::from_directory(options.schemas_dir);
  if (const auto note = built_in_note(*schemas, options.schemas_dir)) {
    std::cerr << "tykhook schema validate: " << *note << '\n';
  }
  bool io_error = false;
  bool rejected = false;
  const std::vector<std::string> inputs =
      options.bodies.empty() ? std::vector<std::string>{"-"} : options.bodies;
  for (const auto& input : inputs) {
    std::string body;
    try {
      body = read_input(input);
    } catch (const Error& error) {
      std::cerr << "tykhook schema validate: " << error.what() << '\n';
      io_error = true;
      continue;
    }
    Verdict verdict = check_body(body, schemas.get(), /*allow_unknown_events=*/false);
    if ((verdict.kind == VerdictKind::malformed_json ||
         verdict.kind == VerdictKind::invalid_envelope) &&
        is_capture(body, input)) {
      verdict.errors.insert(verdict.errors.begin(),
                            "this is a captured request, not a bare body; check it (signature "
                            "and all) with `tykhook verify " +
                                input + "`");
    }
    rejected = rejected || !verdict.ok();
    print_verdict(input, verdict, options.format);
  }
  std::cout.flush();
  return io_error ? exit_usage : rejected ? exit_rejected : exit_ok;
}

}  // namespace

CLI::Validator event_check() {
  return CLI::Validator(
      [](const std::string& text) {
        if (parse_event(text)) return std::string();
        std::vector<std::string> names;
        for (const Event event : all_events()) {
          names.emplace_back(to_string(event));
          if (const auto alias = alias_of(event)) names.emplace_back(*alias);
        }
        const auto meant = nearest(text, names);
        return "\"" + text.substr(0, 64) + "\" is not a portal event" +
               (meant ? " (did you mean " + *meant + "? names are case-sensitive)" : "") +
               "; use one of: " + event_names();
      },
      "");
}

CLI::App* add_schema(CLI::App& app, SchemaOptions& options) {
  CLI::App* command = app.add_subcommand(
      "schema", "List the events' JSON Schemas, print one, or validate bare bodies against them");
  command->require_subcommand(1);

  CLI::App* list = command->add_subcommand(
      "list", "Print one line per event: wire name, alias (or -), schema file name");
  list->preparse_callback([&options](std::size_t) { options.action = SchemaAction::list; });

  CLI::App* show = command->add_subcommand("show", "Print the JSON Schema of an event's Message");
  show->preparse_callback([&options](std::size_t) { options.action = SchemaAction::show; });
  show->add_option("event", options.event,
                   "Event, by wire name or alias, e.g. UserRegistered or OrganizationRegistered")
      ->type_name("EVENT")
      ->required()
      ->check(event_check());

  CLI::App* validate = command->add_subcommand(
      "validate",
      "Check bare bodies: the envelope, the event and its Message's schema (no signature)");
  validate->preparse_callback([&options](std::size_t) { options.action = SchemaAction::validate; });
  validate->add_option("bodies", options.bodies, "Body files; none or - reads standard input")
      ->type_name("BODY");
  validate
      ->add_option("--schemas", options.schemas_dir,
                   "Directory of <Event>.schema.json files to use instead of the built-in ones; "
                   "an event without a file there keeps its built-in schema")
      ->type_name("DIR");
  validate->add_option("--format", options.format, "Output: one line per body (text) or JSON")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"text", "json"}).description(""))
      ->capture_default_str();
  return command;
}

int run_schema(const SchemaOptions& options) {
  switch (options.action) {
    case SchemaAction::list:
      return run_list();
    case SchemaAction::show:
      return run_show(options);
    case SchemaAction::validate:
      return run_validate(options);
  }
  return exit_usage;
}

}  // namespace tykhook::cli
