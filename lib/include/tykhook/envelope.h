#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "tykhook/events.h"
#include "tykhook/timestamp.h"

namespace tykhook {

/// The deepest nesting of arrays and objects that a body may have (DESIGN.md, "Sizes").
inline constexpr std::size_t max_json_depth = 64;

/// A delivery's body, read: {Event, Message, Timestamp}. It knows nothing of schemas.
struct Envelope {
  std::string event_name;      ///< the raw `Event` string
  std::optional<Event> event;  ///< the catalogue's event (aliases normalised); nullopt if unknown
  nlohmann::json message;      ///< the `Message` object
  std::string timestamp_text;  ///< the raw `Timestamp` string
  TimePoint timestamp;         ///< `Timestamp`, parsed
};

/// Why a body could not be read as an envelope.
enum class EnvelopeFailure {
  malformed_json,    ///< not JSON, not UTF-8, or nested deeper than max_json_depth
  invalid_envelope,  ///< JSON, but Event/Message/Timestamp missing, mistyped or not RFC 3339
};

/// The outcome of parse_envelope: an envelope, or a failure with its message.
struct EnvelopeResult {
  /// The envelope, or nullopt on failure.
  std::optional<Envelope> envelope;
  EnvelopeFailure failure = EnvelopeFailure::malformed_json;  ///< meaningful without envelope
  std::string error;                                          ///< empty with envelope
};

/// Parses body bytes into an envelope. Never throws on any input; the error names the byte or
/// the field, e.g. "byte 17: syntax error ..." or "/Timestamp: expected string, got number".
[[nodiscard]] EnvelopeResult parse_envelope(std::string_view body);

/// Returns `body` with the string value of its top-level `Timestamp` replaced by `timestamp` in
/// Go's RFC3339Nano form, every other byte kept (re-serialising would lose Go's escaping, such
/// as "\u003c" for '<'). Fails when the body has no top-level `Timestamp` string.
[[nodiscard]] Parsed<std::string> with_timestamp(std::string_view body, TimePoint timestamp);

}  // namespace tykhook
