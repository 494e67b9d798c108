#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>

namespace tykhook::cli {

/// The options of `tykhook completion`.
struct CompletionOptions {
  std::string shell;  ///< bash or zsh
};

/// Adds `tykhook completion SHELL` to `app`.
CLI::App* add_completion(CLI::App& app, CompletionOptions& options);
/// Prints the completion script of `options.shell` for the commands of `app`; returns the exit
/// status. Throws tykhook::Error when no shell is given.
int run_completion(CLI::App& app, const CompletionOptions& options);

/// The completion script for `shell` ("bash" or "zsh") of `app`'s commands, their options and
/// the values these take; static: completing a word runs no program.
[[nodiscard]] std::string completion_script(CLI::App& app, std::string_view shell);

}  // namespace tykhook::cli
