#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "commands.h"
#include "output.h"
#include "tykhook/envelope.h"
#include "tykhook/events.h"

namespace tykhook::cli {

CLI::App* add_example(CLI::App& app, ExampleOptions& options) {
  CLI::App* command = app.add_subcommand(
      "example", "Print the sample wire body of an event, byte for byte as the portal sends it");
  command->footer(
      "The body has no final newline: in a pipe or a file the output ends with its last byte. At "
      "a terminal only, a newline follows, so that the prompt starts a line of its own.");
  command
      ->add_option("event", options.event,
                   "Event, by wire name or alias, e.g. UserRegistered or OrganizationRegistered")
      ->type_name("EVENT")
      ->required()
      ->check(event_check());
  command->add_flag("--fresh-timestamp", options.fresh_timestamp,
                    "Replace Timestamp with the current time (UTC, e.g. "
                    "2024-04-24T15:26:04.329072196Z); every other byte is kept");
  return command;
}

int run_example(const ExampleOptions& options) {
  const TimePoint now = std::chrono::time_point_cast<std::chrono::nanoseconds>(Clock::now());
  // event_check() let only catalogue names through.
  const Event event = *parse_event(options.event);
  if (const auto sample = sample_body(event)) {
    std::string body(*sample);
    if (options.fresh_timestamp) {
      auto stamped = with_timestamp(body, now);
      if (!stamped)
        throw Error("sample of " + std::string(to_string(event)) + ": " + stamped.error);
      body = std::move(*stamped);
    }
    return print_exact(body) ? exit_ok : exit_usage;
  }
  std::cerr << "tykhook example: " << to_string(event)
            << ": no sample body, as the portal documents no payload for this event; write one "
               "by hand (see `tykhook schema show "
            << to_string(event) << "`)\n";
  return exit_usage;
}

}  // namespace tykhook::cli
