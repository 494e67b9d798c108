#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace tykhook::cli {

/// What a command line that the parser refused was about, for a message a newcomer can act on.
struct Misreading {
  std::string where;                   ///< "tykhook", "tykhook verify", "tykhook schema show"
  std::optional<std::string> problem;  ///< a word not understood, with the nearest choice
};

/// Walks `argv` along `app`'s commands and options (values of options skipped) and names the
/// first word it does not understand: a command or action that does not exist (or none given
/// where one is needed), or an option the command does not take, each with the nearest choice
/// when one is close. `problem` is empty when every word is known (the refusal was of a value).
[[nodiscard]] Misreading misread(const CLI::App& app, int argc, char** argv);

}  // namespace tykhook::cli
