// Fuzz target: parse_envelope and with_timestamp on any body. An envelope that is read holds
// what its body says; with_timestamp edits only the Timestamp, so an envelope that was read
// still reads after the edit, with the new time and the same event and Message.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_checks.h"
#include "tykhook/envelope.h"
#include "tykhook/events.h"
#include "tykhook/timestamp.h"

namespace {

using tykhook::fuzz::require;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto body = tykhook::fuzz::bytes_of(data, size);
  const auto result = tykhook::parse_envelope(body);
  if (!result.envelope) {
    tykhook::fuzz::require_message(result.error, "parse_envelope");
  } else {
    const auto& envelope = *result.envelope;
    require(result.error.empty(), "an envelope that was read has no error");
    require(envelope.message.is_object(), "Message is an object");
    require(tykhook::fuzz::is_utf8(envelope.event_name), "Event is UTF-8");
    require(envelope.event == tykhook::parse_event(envelope.event_name),
            "the event is the catalogue's entry for Event");
    const auto time = tykhook::parse_rfc3339(envelope.timestamp_text);
    require(time.ok() && *time == envelope.timestamp, "the timestamp is Timestamp, parsed");
  }

  const tykhook::TimePoint replacement{std::chrono::nanoseconds(1713972364123456789)};
  const auto edited = tykhook::with_timestamp(body, replacement);
  if (!edited) {
    tykhook::fuzz::require_message(edited.error, "with_timestamp");
    return 0;
  }
  if (result.envelope) {
    const auto again = tykhook::parse_envelope(*edited);
    require(again.envelope.has_value(), "an edited envelope reads: " + again.error);
    require(again.envelope->timestamp == replacement, "the edit sets Timestamp");
    require(again.envelope->event_name == result.envelope->event_name, "the edit keeps Event");
    require(again.envelope->message == result.envelope->message, "the edit keeps Message");
  }
  return 0;
}
