#pragma once

// Waiting for a condition: a poll of it with a deadline, never a fixed sleep.

#include <chrono>
#include <functional>
#include <string_view>

namespace tykhook::test {

/// Asks `holds` until it answers true or `timeout` has passed, every `interval`; whether it
/// held. For a wait whose timeout is itself an outcome (a process that must be killed then).
bool poll_until(const std::function<bool()>& holds, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval = std::chrono::milliseconds(5));

/// poll_until, and when the time is up the test fails with a message naming `what` it waited
/// for; whether it held.
bool wait_until(std::string_view what, const std::function<bool()>& holds,
                std::chrono::milliseconds timeout = std::chrono::seconds(10),
                std::chrono::milliseconds interval = std::chrono::milliseconds(5));

}  // namespace tykhook::test
