#pragma once

// Child processes of a test other than `tykhook` itself (tykhook_process.h runs that one).

#include <sys/types.h>

#include <array>
#include <map>
#include <string>
#include <vector>

namespace tykhook::test {

/// Starts a child process (`args[0]` found on PATH) with standard output to `out` (or
/// /dev/null), no standard input and no standard error (spawn_program).
pid_t spawn(const std::vector<std::string>& args, const std::string& out = "/dev/null");

/// Starts `exe` (found on PATH when it has no '/') with `args` after it, in this process's
/// environment with `env` applied (an empty value unsets a variable), with `fds` as its standard
/// input, output and error (-1: /dev/null). With posix_spawn nothing of ours runs in the child
/// before the exec: after a fork, a test with threads of its own (a server, a reader) could leave
/// the child waiting forever on a lock that another thread held at the fork (malloc's, in setenv).
/// Every other descriptor the child should not keep must be close-on-exec. Throws
/// std::runtime_error when it cannot start.
pid_t spawn_program(const std::string& exe, const std::vector<std::string>& args,
                    const std::map<std::string, std::string>& env, std::array<int, 3> fds);

/// Waits for child `pid` to end; its exit status, or -1 when a signal ended it.
int wait_exit(pid_t pid);

}  // namespace tykhook::test
