#include <algorithm>
#include <chrono>
#include <string>

#include "tykhook/worker.h"

namespace tykhook {

std::string_view to_string(AttemptOutcome outcome) {
  switch (outcome) {
    case AttemptOutcome::done:
      return "done";
    case AttemptOutcome::retry:
      return "retry";
    case AttemptOutcome::dead:
      return "dead";
  }
  return "";  // unreachable for a valid enumerator; -Wall flags a missing case above
}

std::chrono::milliseconds backoff_limit(unsigned attempts, const RetryPolicy& policy) {
  // base * 2^(attempts-1), stopping at the cap before the doubling can overflow.
  auto limit = std::max(policy.base, std::chrono::milliseconds(0));
  for (unsigned n = 1; n < attempts && limit < policy.cap; ++n) limit *= 2;
  return std::min(limit, policy.cap);
}

std::chrono::milliseconds backoff_delay(unsigned attempts, const RetryPolicy& policy,
                                        double uniform,
                                        std::optional<std::chrono::milliseconds> retry_after) {
  // Full jitter: a random point in [0, limit], so that deliveries that failed together do not
  // come back together.
  const auto limit = backoff_limit(attempts, policy);
  const double share = std::clamp(uniform, 0.0, 1.0);
  auto delay = std::chrono::milliseconds(
      static_cast<std::chrono::milliseconds::rep>(share * static_cast<double>(limit.count())));
  if (retry_after && *retry_after > delay) delay = std::min(*retry_after, policy.cap);
  return delay;
}

AttemptRecord after_attempt(const QueueEntry& entry, const AttemptResult& result, TimePoint now,
                            const RetryPolicy& policy, double uniform) {
  AttemptRecord record;
  if (result.outcome == AttemptOutcome::done) return record;
  record.error = result.error;
  if (result.outcome == AttemptOutcome::dead) {
    record.state = QueueState::dead;
    return record;
  }
  // Attempts and age count from the last `queue retry`, when there was one.
  const TimePoint since = entry.retried.value_or(entry.received);
  const TimePoint next = now + backoff_delay(entry.attempts, policy, uniform, result.retry_after);
  if (entry.attempts >= policy.max_attempts) {
    record.state = QueueState::dead;
    record.error = result.error + "; gave up after " + std::to_string(entry.attempts) +
                   " attempts (--max-attempts)";
  } else if (next - since > policy.max_age) {
    record.state = QueueState::dead;
    record.error = result.error + "; gave up: the next attempt would pass --max-age";
  } else {
    record.state = QueueState::retrying;
    record.next_attempt = next;
  }
  return record;
}

}  // namespace tykhook
