#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "tykhook_process.h"

namespace tykhook::test {

/// Runs the built `tykhook` with `args` and its standard output a terminal: a pseudo-terminal
/// in raw mode, so that the bytes arrive as the program wrote them. Standard input is empty
/// (/dev/null); standard error is a pipe, kept apart. Kills it after `timeout`.
Run run_tykhook_at_terminal(const std::vector<std::string>& args,
                            std::chrono::seconds timeout = std::chrono::seconds(30));

}  // namespace tykhook::test
