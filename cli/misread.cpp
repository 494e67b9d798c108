#include "misread.h"

#include <string_view>
#include <vector>

#include "suggest.h"

namespace tykhook::cli {
namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

std::vector<std::string> command_names(const CLI::App& level) {
  std::vector<std::string> names;
  for (const CLI::App* sub : level.get_subcommands({})) names.push_back(sub->get_name());
  return names;
}

// The option of `level` named `name` ("--format", "-h"), or nullptr.
const CLI::Option* option_named(const CLI::App& level, std::string_view name) {
  for (const CLI::Option* option : level.get_options()) {
    for (const auto& long_name : option->get_lnames()) {
      if (name == "--" + long_name) return option;
    }
    for (const auto& short_name : option->get_snames()) {
      if (name == "-" + short_name) return option;
    }
  }
  return nullptr;
}

std::vector<std::string> option_names(const CLI::App& level) {
  std::vector<std::string> names;
  for (const CLI::Option* option : level.get_options()) {
    for (const auto& long_name : option->get_lnames()) names.push_back("--" + long_name);
  }
  return names;
}

std::string nearest_text(std::string_view word, const std::vector<std::string>& choices) {
  const auto choice = nearest(word, choices);
  return choice ? " (did you mean " + *choice + "?)" : "";
}

}  // namespace

Misreading misread(const CLI::App& app, int argc, char** argv) {
  const CLI::App* level = &app;
  Misreading found{.where = "tykhook", .problem = std::nullopt};
  const auto commands_word = [&level] {
    return level->get_parent() == nullptr ? std::string("command") : std::string("action");
  };
  bool value_expected = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view word = argv[i];
    if (word == "--") break;
    if (value_expected) {
      value_expected = false;
      continue;
    }
    if (word.starts_with("-") && word.size() > 1) {
      const std::string_view name = word.substr(0, word.find('='));
      const CLI::Option* option = option_named(*level, name);
      if (option == nullptr) {
        found.problem = "\"" + std::string(name.substr(0, 64)) + "\" is not an option of " +
                        found.where + nearest_text(name, option_names(*level)) + "; see " +
                        found.where + " --help";
        return found;
      }
      value_expected = option->get_expected_max() > 0 && name.size() == word.size();
      continue;
    }
    const auto names = command_names(*level);
    if (names.empty()) continue;  // a positional argument of a command
    const CLI::App* sub = nullptr;
    for (const CLI::App* candidate : level->get_subcommands({})) {
      if (candidate->get_name() == word) sub = candidate;
    }
    if (sub == nullptr) {
      found.problem = "\"" + std::string(word.substr(0, 64)) + "\" is not " +
                      (level->get_parent() == nullptr ? "a " : "an ") + commands_word() +
                      nearest_text(word, names) + "; the " + commands_word() +
                      "s: " + joined(names) + "; see " + found.where + " --help";
      return found;
    }
    level = sub;
    found.where += " " + sub->get_name();
  }
  const auto names = command_names(*level);
  if (!names.empty()) {
    found.problem = "no " + commands_word() + " given; the " + commands_word() +
                    "s: " + joined(names) + "; see " + found.where + " --help";
  }
  return found;
}

}  // namespace tykhook::cli
