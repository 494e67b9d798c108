#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tykhook/dispatcher.h"
#include "tykhook/error.h"
#include "tykhook/request.h"
#include "tykhook/worker.h"

namespace tykhook {

/// Thrown by a handler that will never take this delivery: the entry goes `dead` at once
/// instead of being tried again (DESIGN.md, "Handing deliveries on").
class GiveUp : public Error {
 public:
  using Error::Error;
};

/// A target that runs the dispatcher's handler for each delivery: returns: done; throws: retry;
/// throws GiveUp (or a Message that does not fit its struct): dead.
[[nodiscard]] std::unique_ptr<Target> handler_target(Dispatcher dispatcher);

/// How `--exec` runs a command.
struct ExecOptions {
  std::string command;  ///< split into words (quotes honoured), run without a shell
  std::chrono::milliseconds timeout = std::chrono::seconds(60);  ///< --exec-timeout: then killed
  /// Environment variables the command does not inherit (the one holding the secret).
  std::vector<std::string> hidden_environment;
};

/// A target that runs a command per delivery: the body on its standard input, TYKHOOK_EVENT,
/// TYKHOOK_DELIVERY, TYKHOOK_ATTEMPT and TYKHOOK_TIMESTAMP in its environment. Exit 0: done;
/// 75 (EX_TEMPFAIL), a signal or the timeout: retry; any other: dead. Throws tykhook::Error
/// when the command is empty or its quotes do not close.
[[nodiscard]] std::unique_ptr<Target> exec_target(ExecOptions options);

/// Splits a command line into words as a POSIX shell would without expanding anything:
/// white space separates, '...' is literal, "..." honours \" \\ \$ \`, a backslash outside
/// quotes escapes the next byte. Throws tykhook::Error naming what is wrong (an unclosed quote).
[[nodiscard]] std::vector<std::string> split_command(std::string_view command);

}  // namespace tykhook
