#pragma once

// The shared Redis of the store tests: TYKHOOK_TEST_REDIS_URI names it (CI sets it, and with
// CI set and no server the Redis tests fail; a developer without one gets a hint).

#include <optional>
#include <string>
#include <string_view>

namespace tykhook::test {

/// A run-unique text, so that concurrent or repeated runs never share files or Redis keys.
std::string unique_name();

/// When a Redis-backed test cannot run, CI must fail loudly while a developer gets a hint.
void redis_unavailable(std::string_view why, std::string_view fix);

/// The shared server's URI with a run-unique key prefix, or nullopt (after a message).
std::optional<std::string> redis_test_uri();

}  // namespace tykhook::test
