#pragma once

namespace tykhook::cli {

/// Replaces this process with tykhook-network, run with the same `argv` (so the same process
/// id, standard streams and signals); it returns only by throwing tykhook::Error when the
/// program cannot be started.
[[noreturn]] void run_network_program(char** argv);

}  // namespace tykhook::cli
