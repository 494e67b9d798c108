#pragma once

#include <functional>

#include "commands.h"

namespace tykhook::cli {

/// How a program runs the commands that talk HTTP: in its own process (tykhook-network), or
/// by handing the command line over to the program that can (tykhook).
struct NetworkCommands {
  std::function<int(const ListenOptions&)> listen;
  std::function<int(const SendOptions&)> send;
  std::function<int(const WorkOptions&)> work;
  std::function<int(const ReplayOptions&)> replay;
  std::function<int(const ProbeOptions&)> probe;
};

/// Parses the command line with every command's options (so that --help is complete and the
/// same in both programs), runs the chosen command and returns its exit status; errors of the
/// command become a message on standard error and exit 2 (DESIGN.md, "CLI contract").
[[nodiscard]] int run_command_line(int argc, char** argv, const NetworkCommands& network);

}  // namespace tykhook::cli
