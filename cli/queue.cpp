// `tykhook queue list|show|retry|drop|export`: the delivery queue as an operator sees it
// (DESIGN.md, "Handing deliveries on").
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "output.h"
#include "tykhook/capture.h"
#include "tykhook/store.h"

namespace tykhook::cli {
namespace {

constexpr auto replace_invalid = nlohmann::ordered_json::error_handler_t::replace;

nlohmann::ordered_json optional_time(const std::optional<TimePoint>& time) {
  return time ? nlohmann::ordered_json(format_rfc3339(*time, 3)) : nullptr;
}

nlohmann::ordered_json optional_text(const std::optional<std::string>& text) {
  return text ? nlohmann::ordered_json(*text) : nullptr;
}

// The fields of DESIGN.md's `queue list` line.
nlohmann::ordered_json list_object(const QueueEntry& entry) {
  nlohmann::ordered_json object;
  object["key"] = entry.key;
  object["event"] = entry.event;
  object["state"] = to_string(entry.state);
  object["attempts"] = entry.attempts;
  object["received"] = format_rfc3339(entry.received, 3);
  object["next_attempt"] = optional_time(entry.next_attempt);
  object["last_error"] = optional_text(entry.last_error);
  return object;
}

void print_list_line(const QueueEntry& entry, const std::string& format) {
  if (format == "json") {
    std::cout << list_object(entry).dump(-1, ' ', false, replace_invalid) << '\n';
    return;
  }
  std::cout << entry.key << ' ' << loggable(entry.event, 64) << ' ' << to_string(entry.state)
            << " attempts=" << entry.attempts << " received=" << format_rfc3339(entry.received, 3);
  if (entry.next_attempt) std::cout << " next=" << format_rfc3339(*entry.next_attempt, 3);
  if (entry.last_error) std::cout << " error: " << loggable(*entry.last_error, 1000, true);
  std::cout << '\n';
}

void print_entry(const QueueEntry& entry, const std::string& format) {
  if (format == "json") {
    nlohmann::ordered_json object = list_object(entry);
    object["retried"] = optional_time(entry.retried);
    object["method"] = entry.request.method;
    object["target"] = entry.request.target;
    auto headers = nlohmann::ordered_json::array();
    for (const auto& header : entry.request.headers) headers.push_back({header.name, header.value});
    object["headers"] = headers;
    object["body_bytes"] = entry.request.body.size();
    std::cout << object.dump(-1, ' ', false, replace_invalid) << '\n';
    return;
  }
  std::cout << "key:          " << entry.key << '\n'
            << "event:        " << loggable(entry.event, 64) << '\n'
            << "state:        " << to_string(entry.state) << '\n'
            << "attempts:     " << entry.attempts << '\n'
            << "received:     " << format_rfc3339(entry.received, 3) << '\n';
  if (entry.retried) std::cout << "retried:      " << format_rfc3339(*entry.retried, 3) << '\n';
  if (entry.next_attempt) {
    std::cout << "next attempt: " << format_rfc3339(*entry.next_attempt, 3) << '\n';
  }
  if (entry.last_error) {
    std::cout << "last error:   " << loggable(*entry.last_error, 4000, true) << '\n';
  }
  std::cout << "request:      " << loggable(entry.request.method, 16) << ' '
            << loggable(entry.request.target, 1000) << ", " << entry.request.body.size()
            << " bytes of body (queue export KEY writes it as a capture)\n";
  for (const auto& header : entry.request.headers) {
    std::cout << "  " << loggable(header.name, 200) << ": " << loggable(header.value, 1000, true)
              << '\n';
  }
}

// Writes the capture of `entry` to `dir` (or standard output when empty); returns whether it
// was written.
bool export_entry(const QueueEntry& entry, const std::string& dir) {
  const std::string capture = write_json_capture(entry.request, entry.received);
  if (dir.empty()) {
    std::cout << capture << std::flush;
    return static_cast<bool>(std::cout);
  }
  const std::filesystem::path path = std::filesystem::path(dir) / (entry.key + ".json");
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << capture;
  file.close();
  if (!file) {
    std::cerr << "tykhook queue export: " << path.string()
              << ": cannot write; check that the directory exists and is writable\n";
    return false;
  }
  return true;
}

}  // namespace

CLI::App* add_queue(CLI::App& app, QueueOptions& options) {
  CLI::App* command =
      app.add_subcommand("queue",
                         "See and change the delivery queue: list, show, retry, drop, "
                         "export");
  command->require_subcommand(1);
  const auto store_option = [&options](CLI::App& action) {
    action
        .add_option("--store", options.store,
                    "The store that holds the queue: sqlite:PATH or "
                    "redis://HOST:PORT[/DB][?prefix=P]")
        ->type_name("URI")
        ->required();
  };
  const auto format_option = [&options](CLI::App& action) {
    action.add_option("--format", options.format, "Output: text or json (one object per line)")
        ->type_name("FORMAT")
        ->check(CLI::IsMember({"text", "json"}).description(""))
        ->capture_default_str();
  };
  const auto keys_option = [&options](CLI::App& action, bool required) {
    auto* keys = action
                     .add_option("KEY", options.keys,
                                 "A delivery's key (X-Tykhook-Delivery), as queue list shows it")
                     ->type_name("KEY");
    if (required) keys->required();
  };

  CLI::App* list = command->add_subcommand("list", "List the entries, newest first");
  store_option(*list);
  list->add_option("--state", options.state, "Only entries in this state")
      ->type_name("STATE")
      ->check(CLI::IsMember({"pending", "retrying", "done", "dead"}).description(""));
  list->add_option("--limit", options.limit, "At most this many entries")
      ->type_name("N")
      ->check(CLI::Range(1, 1'000'000).description(""))
      ->capture_default_str();
  format_option(*list);
  list->callback([&options] { options.action = QueueAction::list; });

  CLI::App* show = command->add_subcommand("show",
                                           "Show entries: state, attempts, last error, "
                                           "headers");
  store_option(*show);
  format_option(*show);
  keys_option(*show, true);
  show->callback([&options] { options.action = QueueAction::show; });

  CLI::App* retry = command->add_subcommand(
      "retry", "Send entries back to be tried again now, with a fresh count of attempts");
  store_option(*retry);
  keys_option(*retry, false);
  retry->add_flag("--dead", options.dead, "Every dead entry");
  retry->callback([&options] { options.action = QueueAction::retry; });

  CLI::App* drop = command->add_subcommand(
      "drop", "Remove entries from the queue; they are not handed on (their claim stays)");
  store_option(*drop);
  keys_option(*drop, true);
  drop->callback([&options] { options.action = QueueAction::drop; });

  CLI::App* exported = command->add_subcommand(
      "export", "Write entries as tykhook JSON captures, which verify and replay read");
  store_option(*exported);
  keys_option(*exported, true);
  exported
      ->add_option("--output-dir", options.output_dir,
                   "Write KEY.json here, one file per entry; without it one KEY goes to standard "
                   "output")
      ->type_name("DIR");
  exported->callback([&options] { options.action = QueueAction::export_captures; });
  return command;
}

int run_queue(const QueueOptions& options) {
  const std::string where = "tykhook queue";
  std::unique_ptr<Store> store;
  try {
    store = open_store(options.store);
  } catch (const Error& error) {
    std::cerr << where << ": --store: " << error.what() << '\n';
    return exit_usage;
  }
  if (!store->has_queue()) {
    std::cerr << where << ": --store \"" << options.store
              << "\": this store holds no delivery queue; give the store that listen or work "
                 "uses, e.g. sqlite:tykhook.db\n";
    return exit_usage;
  }

  if (options.action == QueueAction::list) {
    const auto state = options.state.empty() ? std::nullopt : parse_queue_state(options.state);
    for (const auto& entry : store->list(state, options.limit))
      print_list_line(entry, options.format);
    return exit_ok;
  }
  if (options.action == QueueAction::retry && options.dead) {
    if (!options.keys.empty()) {
      std::cerr << where << " retry: give KEYs or --dead, not both\n";
      return exit_usage;
    }
    std::size_t count = 0;
    const TimePoint now = std::chrono::time_point_cast<TimePoint::duration>(Clock::now());
    for (const auto& entry :
         store->list(QueueState::dead, std::numeric_limits<std::size_t>::max())) {
      if (store->retry(entry.key, now)) ++count;
    }
    std::cerr << where << " retry: " << count << " dead " << (count == 1 ? "entry" : "entries")
              << " sent back\n";
    return exit_ok;
  }
  if (options.keys.empty()) {
    std::cerr << where << " retry: give KEYs, or --dead for every dead entry\n";
    return exit_usage;
  }
  if (options.action == QueueAction::export_captures && options.output_dir.empty() &&
      options.keys.size() > 1) {
    std::cerr << where << " export: " << options.keys.size()
              << " keys without --output-dir; give one KEY, or --output-dir DIR for several\n";
    return exit_usage;
  }

  int status = exit_ok;
  const TimePoint now = std::chrono::time_point_cast<TimePoint::duration>(Clock::now());
  for (const auto& key : options.keys) {
    bool found = false;
    switch (options.action) {
      case QueueAction::show:
        if (const auto entry = store->find(key)) {
          found = true;
          print_entry(*entry, options.format);
        }
        break;
      case QueueAction::retry:
        found = store->retry(key, now);
        break;
      case QueueAction::drop:
        found = store->drop(key);
        break;
      case QueueAction::export_captures:
        if (const auto entry = store->find(key)) {
          found = true;
          if (!export_entry(*entry, options.output_dir)) status = exit_usage;
        }
        break;
      case QueueAction::list:
        break;
    }
    if (!found) {
      std::cerr << where << ": " << loggable(key, 100)
                << ": no such entry in the queue; see tykhook queue list\n";
      status = exit_rejected;
    }
  }
  return status;
}

}  // namespace tykhook::cli
