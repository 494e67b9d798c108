#include "completion.h"

#include <algorithm>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "commands.h"
#include "tykhook/error.h"
#include "tykhook/events.h"

namespace tykhook::cli {
namespace {

// `tykhook help [COMMAND...]` is wired in command_line.cpp, before the parser: no command of the
// tree, so the scripts offer it themselves.
constexpr std::string_view help_description = "Print the help of a command, as COMMAND --help";

// The key under which a command's positional argument is completed, next to its options.
constexpr std::string_view argument_key = "<argument>";

// What the value of an option, or a command's argument, completes to.
struct Values {
  enum class Kind { words, files, directories } kind = Kind::words;
  std::vector<std::string> words;
};

struct Named {
  std::string name;
  std::string description;
};

// One command of the tree ("tykhook schema show"): what may follow it.
struct Level {
  std::string path;
  std::vector<Named> commands;
  std::vector<Named> options;       // every name of every option: -h, --help, --format
  std::vector<std::string> valued;  // the names of the options that take a value
  std::vector<std::pair<std::string, Values>> values;  // by option name, or argument_key
};

// A word that the scripts can list without quoting it for the shell a second time (bash's
// `compgen -W` expands its list); every choice and event name is one.
bool plain_word(std::string_view word) {
  if (word.empty()) return false;
  for (const char c : word) {
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!letter && std::string_view("_.,+-/@%").find(c) == std::string_view::npos) return false;
  }
  return true;
}

// The choices of a CLI::IsMember check. The commands clear its description, so that --help
// shows the label alone (FORMAT, not FORMAT:{text,json}); the choices are then only in the
// message that it gives for a value that is none of them: "<value> not in {text,json}".
// Checks that are not IsMember answer otherwise and give none.
std::vector<std::string> member_choices(CLI::Option& option) {
  static const std::string probe = "\x01";
  const std::string start = probe + " not in {";
  std::vector<std::string> choices;
  for (int index = 0;; ++index) {
    CLI::Validator* validator = nullptr;
    try {
      validator = option.get_validator(index);
    } catch (const CLI::OptionNotFound&) {
      break;  // CLI11 says how many checks there are only this way
    }
    if (!validator->get_active()) continue;
    std::string message;
    try {
      message = (*validator)(probe);
    } catch (const CLI::ValidationError&) {
      continue;
    }
    if (!message.starts_with(start) || !message.ends_with("}")) continue;
    const std::string_view list =
        std::string_view(message).substr(start.size(), message.size() - start.size() - 1);
    for (std::size_t begin = 0; begin <= list.size();) {
      const std::size_t end = std::min(list.find(',', begin), list.size());
      const std::string_view word = list.substr(begin, end - begin);
      if (plain_word(word)) choices.emplace_back(word);
      begin = end + 1;
    }
  }
  return choices;
}

// Every name `event_check()` accepts: the library's wire names, then the aliases.
std::vector<std::string> event_names() {
  std::vector<std::string> names;
  for (const Event event : all_events()) names.emplace_back(to_string(event));
  for (const Event event : all_events()) {
    if (const auto alias = alias_of(event)) names.emplace_back(*alias);
  }
  return names;
}

// What `option`'s values complete to: its choices when it has them, else what its --help label
// (type name) says it is. None for a label that names no set of values (URL, DURATION).
std::optional<Values> values_of(CLI::Option& option) {
  if (auto choices = member_choices(option); !choices.empty()) {
    return Values{.kind = Values::Kind::words, .words = std::move(choices)};
  }
  const std::string type_name = option.get_type_name();
  const std::string label = type_name.substr(0, type_name.find(':'));
  if (label == "EVENT") return Values{.kind = Values::Kind::words, .words = event_names()};
  if (label == "DIR") return Values{.kind = Values::Kind::directories};
  if (label == "PATH" || label == "FILE" || label == "BODY" || label == "CAPTURE") {
    return Values{.kind = Values::Kind::files};
  }
  return std::nullopt;
}

std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  return text;
}

// Appends the level of `command` (named `path`), then those of its commands, depth first.
void walk(CLI::App& command, const std::string& path, std::vector<Level>& levels) {
  Level level{.path = path};
  const auto subcommands = command.get_subcommands([](CLI::App*) { return true; });
  for (CLI::App* sub : subcommands) {
    level.commands.push_back({sub->get_name(), one_line(sub->get_description())});
  }
  bool argument = false;
  for (CLI::Option* option : command.get_options()) {
    const auto values = values_of(*option);
    if (!option->nonpositional()) {
      if (values && !argument) level.values.emplace_back(argument_key, *values);
      argument = true;  // the first positional argument is the one completed
      continue;
    }
    std::vector<std::string> names;
    for (const auto& name : option->get_snames()) names.push_back("-" + name);
    for (const auto& name : option->get_lnames()) names.push_back("--" + name);
    for (const auto& name : names) {
      level.options.push_back({name, one_line(option->get_description())});
      if (option->get_expected_max() > 0) {  // a flag expects none
        level.valued.push_back(name);
        if (values) level.values.emplace_back(name, *values);
      }
    }
  }
  levels.push_back(std::move(level));
  for (CLI::App* sub : subcommands) walk(*sub, path + " " + sub->get_name(), levels);
}

// `text` in single quotes, for bash and zsh alike.
std::string single_quoted(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

template <typename T, typename F>
std::string joined(const std::vector<T>& items, F&& text) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : " ") + text(item);
  return out;
}

std::string header(std::string_view shell) {
  const std::string name(shell);
  return "# " + name +
         " completion for tykhook " TYKHOOK_VERSION ", written by `tykhook completion " + name +
         "`\n"
         "# from its command line: its commands, their options and the values these take.\n"
         "# Static: completing a word runs no program.\n";
}

std::string bash_script(const std::vector<Level>& levels) {
  std::string out = header("bash");
  out +=
      "\n"
      "# Sets the caller's level_commands, level_options and level_valued (the options that\n"
      "# take a value) to those of the command $1.\n"
      "_tykhook_level() {\n"
      "  case $1 in\n";
  for (const Level& level : levels) {
    out += "    " + single_quoted(level.path) + ")\n";
    out += "      level_commands=" +
           single_quoted(joined(level.commands, [](const Named& n) { return n.name; })) + "\n";
    out += "      level_options=" +
           single_quoted(joined(level.options, [](const Named& n) { return n.name; })) + "\n";
    out += "      level_valued=" +
           single_quoted(joined(level.valued, [](const std::string& n) { return n; })) + " ;;\n";
  }
  out +=
      "  esac\n"
      "}\n"
      "\n"
      "# Completes $3, the value of option $2 (or <argument>) of the command $1.\n"
      "_tykhook_values() {\n"
      "  case \"$1 $2\" in\n";
  for (const Level& level : levels) {
    for (const auto& [name, values] : level.values) {
      out += "    " + single_quoted(level.path + " " + name) + ") ";
      switch (values.kind) {
        case Values::Kind::words:
          out += "_tykhook_words " +
                 single_quoted(joined(values.words, [](const std::string& w) { return w; })) +
                 " \"$3\" ;;\n";
          break;
        case Values::Kind::files:
          out += "_tykhook_files -f \"$3\" ;;\n";
          break;
        case Values::Kind::directories:
          out += "_tykhook_files -d \"$3\" ;;\n";
          break;
      }
    }
  }
  out += R"(  esac
}

_tykhook_words() {
  mapfile -t COMPREPLY < <(compgen -W "$1" -- "$2")
}

# $1: -f for files (and directories), -d for directories.
_tykhook_files() {
  # Quotes the names as file names; outside a completion (a test) there is nothing to set.
  compopt -o filenames 2>/dev/null || true
  mapfile -t COMPREPLY < <(compgen "$1" -- "$2")
}

_tykhook() {
  local cur=${COMP_WORDS[COMP_CWORD]-} command=tykhook word='' pending='' rest='' help='' i=1
  local level_commands='' level_options='' level_valued=''
  COMPREPLY=()
  _tykhook_level "$command"
  # The command the words before the cursor name, and whether the last of them is an option
  # waiting for its value. `help` is `--help` (tykhook help COMMAND).
  while [[ $i -lt $COMP_CWORD ]]; do
    word=${COMP_WORDS[i]-}
    i=$((i + 1))
    if [[ -n $pending ]]; then
      # --format=json comes as three words (= breaks words): --format, =, json.
      [[ $word == = ]] || pending=
      continue
    fi
    [[ -n $rest ]] && continue
    case $word in
      --) rest=1 ;;
      -*) [[ " $level_valued " == *" $word "* ]] && pending=$word ;;
      *)
        if [[ $command == tykhook && $word == help && -z $help ]]; then
          help=1
        elif [[ " $level_commands " == *" $word "* ]]; then
          command="$command $word"
          _tykhook_level "$command"
        fi ;;
    esac
  done
  if [[ -n $pending ]]; then
    [[ $cur == = ]] && cur=
    _tykhook_values "$command" "$pending" "$cur"
  elif [[ -n $help ]]; then
    _tykhook_words "$level_commands" "$cur"
  elif [[ -z $rest && $cur == -* ]]; then
    _tykhook_words "$level_options" "$cur"
  elif [[ -n $level_commands ]]; then
    [[ $command == tykhook ]] && level_commands="$level_commands help"
    _tykhook_words "$level_commands" "$cur"
  else
    _tykhook_values "$command" '<argument>' "$cur"
  fi
  return 0
}

complete -F _tykhook tykhook
)";
  return out;
}

std::string zsh_script(const std::vector<Level>& levels) {
  std::string out = "#compdef tykhook\n" + header("zsh");
  const auto described = [](const std::vector<Named>& items) {
    return joined(items,
                  [](const Named& n) { return single_quoted(n.name + ":" + n.description); });
  };
  out +=
      "\n"
      "# Sets the caller's arrays level_commands and level_options (name:description) and\n"
      "# level_valued (the options that take a value) to those of the command $1. Not commands\n"
      "# and options: zsh's own arrays of those names mean other things.\n"
      "_tykhook_level() {\n"
      "  case $1 in\n";
  for (const Level& level : levels) {
    out += "    " + single_quoted(level.path) + ")\n";
    out += "      level_commands=(" + described(level.commands) + ")\n";
    out += "      level_options=(" + described(level.options) + ")\n";
    out += "      level_valued=(" + joined(level.valued, [](const std::string& n) { return n; }) +
           ") ;;\n";
  }
  out +=
      "  esac\n"
      "}\n"
      "\n"
      "# Completes the value of option $2 (or <argument>) of the command $1.\n"
      "_tykhook_values() {\n"
      "  case \"$1 $2\" in\n";
  for (const Level& level : levels) {
    for (const auto& [name, values] : level.values) {
      out += "    " + single_quoted(level.path + " " + name) + ") ";
      switch (values.kind) {
        case Values::Kind::words:
          out += "compadd -- " + joined(values.words, [](const std::string& w) { return w; }) +
                 " ;;\n";
          break;
        case Values::Kind::files:
          out += "_files ;;\n";
          break;
        case Values::Kind::directories:
          out += "_files -/ ;;\n";
          break;
      }
    }
  }
  out += "  esac\n}\n\n_tykhook() {\n";
  out += "  local help_entry=" + single_quoted("help:" + std::string(help_description)) + "\n";
  out += R"(  # The completion system's options hold ($_comp_options: nounset off, among others); no
  # `emulate -L zsh`, which would take from _describe and _files some that they need.
  local command=tykhook word='' pending='' rest='' help='' cur=${words[CURRENT]-}
  local -i i
  local -a level_commands level_options level_valued
  _tykhook_level $command
  # The command the words before the cursor name, and whether the last of them is an option
  # waiting for its value. `help` is `--help` (tykhook help COMMAND).
  for (( i = 2; i < CURRENT; i++ )); do
    word=${words[i]}
    if [[ -n $pending ]]; then
      pending=
      continue
    fi
    [[ -n $rest ]] && continue
    case $word in
      --) rest=1 ;;
      -*) (( ${level_valued[(Ie)$word]} )) && pending=$word ;;
      *)
        if [[ $command == tykhook && $word == help && -z $help ]]; then
          help=1
        elif [[ -n ${level_commands[(r)${(b)word}:*]} ]]; then
          command="$command $word"
          _tykhook_level $command
        fi ;;
    esac
  done
  if [[ -n $pending ]]; then
    _tykhook_values $command $pending
  elif [[ -n $help ]]; then
    _describe -t commands 'command' level_commands
  elif [[ -z $rest && $cur == --*=* ]] && (( ${level_valued[(Ie)${cur%%=*}]} )); then
    local option=${cur%%=*}
    compset -P '*='
    _tykhook_values $command $option
  elif [[ -z $rest && $cur == -* ]]; then
    _describe -t options 'option' level_options
  elif (( ${#level_commands} )); then
    [[ $command == tykhook ]] && level_commands+=($help_entry)
    _describe -t commands 'command' level_commands
  else
    _tykhook_values $command '<argument>'
  fi
}

# Autoloaded from $fpath (a file named _tykhook) it completes; sourced, it registers itself.
if [[ ${funcstack[1]-} == _tykhook ]]; then
  _tykhook "$@"
else
  compdef _tykhook tykhook
fi
)";
  return out;
}

}  // namespace

CLI::App* add_completion(CLI::App& app, CompletionOptions& options) {
  CLI::App* command = app.add_subcommand(
      "completion", "Print the completion script of bash or zsh: commands, options, their values");
  command
      ->add_option("shell", options.shell,
                   "Shell: bash (e.g. source <(tykhook completion bash)) or zsh (save as _tykhook "
                   "in a directory of $fpath)")
      ->type_name("SHELL")
      ->check(CLI::IsMember({"bash", "zsh"}).description(""));
  return command;
}

int run_completion(CLI::App& app, const CompletionOptions& options) {
  if (options.shell.empty()) {
    throw Error("no shell given; use bash or zsh, e.g. tykhook completion bash");
  }
  std::cout << completion_script(app, options.shell);
  std::cout.flush();
  return std::cout ? exit_ok : exit_usage;
}

std::string completion_script(CLI::App& app, std::string_view shell) {
  std::vector<Level> levels;
  walk(app, app.get_name(), levels);
  if (shell == "bash") return bash_script(levels);
  if (shell == "zsh") return zsh_script(levels);
  throw std::invalid_argument("completion_script: no script for the shell " + std::string(shell));
}

}  // namespace tykhook::cli
