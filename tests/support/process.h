#pragma once

// Child processes of a test other than `tykhook` itself (tykhook_process.h runs that one).

#include <sys/types.h>

#include <string>
#include <vector>

namespace tykhook::test {

/// Starts a child process with standard output to `out` (or /dev/null) and no standard error.
pid_t spawn(const std::vector<std::string>& args, const std::string& out = "/dev/null");

/// Waits for child `pid` to end; its exit status, or -1 when a signal ended it.
int wait_exit(pid_t pid);

}  // namespace tykhook::test
