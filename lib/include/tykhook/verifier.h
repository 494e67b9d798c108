#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tykhook/envelope.h"
#include "tykhook/events.h"
#include "tykhook/request.h"
#include "tykhook/signature.h"
#include "tykhook/timestamp.h"

namespace tykhook {

class SchemaRegistry;
class Store;

/// What the verifier concluded, in the order of DESIGN.md's checks (the first that fails names
/// the verdict), ok first.
enum class VerdictKind {
  ok,
  malformed_request,
  too_large,
  missing_signature,
  malformed_signature,
  signature_mismatch,
  malformed_json,
  invalid_envelope,
  unknown_event,
  schema_violation,
  stale,
  duplicate,
};

/// Returns the verdict's external name ("signature_mismatch").
[[nodiscard]] std::string_view to_string(VerdictKind kind);

/// True for the verdicts of deliveries that passed the signature check: the portal sent them,
/// so they are never dropped (malformed_json to duplicate, and ok).
[[nodiscard]] bool is_authentic(VerdictKind kind);

/// Returns the HTTP status that answers a delivery with this verdict (DESIGN.md, "`tykhook
/// listen`"): 200, 202, 400, 401 or 413; `reject_invalid` answers the authentic but invalid 400.
[[nodiscard]] int http_status(VerdictKind kind, bool reject_invalid);

/// The verifier's conclusion about one request.
struct Verdict {
  VerdictKind kind = VerdictKind::malformed_request;  ///< the first check that failed, or ok
  /// The wire name of a known event (aliases normalised), the raw `Event` of an unknown one,
  /// nullopt when the envelope could not be read.
  std::optional<std::string> event_name;
  std::optional<Event> event;               ///< the catalogue's event, when known
  std::vector<std::string> errors;          ///< at least one message for every verdict but ok
  std::string idempotency_key;              ///< lower-case hex SHA-256 of the body, once authentic
  std::optional<std::size_t> secret_index;  ///< which secret matched (rotation), once authentic
  std::optional<Envelope> envelope;         ///< the parsed body, once it could be read

  /// True when every check passed.
  bool ok() const { return kind == VerdictKind::ok; }
};

/// The default body size limit: 1 MiB (DESIGN.md, "Verdicts").
inline constexpr std::size_t default_max_body = 1024 * 1024;

/// How long a claimed idempotency key is remembered by default.
inline constexpr std::chrono::milliseconds default_store_ttl = std::chrono::hours(24 * 7);

/// What the verifier checks and with what.
struct VerifierOptions {
  std::vector<Secret> secrets;  ///< at least one; several mean rotation
  /// When set, a Timestamp more than this before now is `stale`, and so is one more than this
  /// after now unless max_future is set. Negative is misuse (invalid_argument).
  std::optional<std::chrono::nanoseconds> tolerance;
  /// When set, a Timestamp more than this after now is `stale`, whether or not a tolerance is
  /// set: a bound for clocks ahead, apart from the tolerance of delays. Negative is misuse.
  std::optional<std::chrono::nanoseconds> max_future;
  std::size_t max_body = default_max_body;  ///< a body longer than this is `too_large`
  /// The schema stage; nullptr skips it (`--no-schema`).
  std::shared_ptr<const SchemaRegistry> schemas;
  bool allow_unknown_events = false;  ///< unknown events pass instead of `unknown_event`
  /// The idempotency stage; nullptr skips it.
  std::shared_ptr<Store> store;
  std::chrono::milliseconds store_ttl = default_store_ttl;  ///< how long a claim is remembered
  /// Replaces the store's claim at the idempotency stage (the receiver's queue claims the key
  /// and queues the delivery in one step): gets the request, the verdict so far and `now`,
  /// returns whether the claim won, throws tykhook::Error when the store fails.
  std::function<bool(const Request&, const Verdict&, TimePoint)> claim;
  /// Whether a verdict's envelope keeps Message. False leaves `envelope->message` null in every
  /// verdict (Message is still checked against its schema, just not kept): less work per
  /// delivery, for callers that need the verdict only. A Dispatcher needs it.
  bool keep_message = true;
};

/// The verification pipeline: Request -> Verdict, in DESIGN.md's order. Thread-safe.
class Verifier {
 public:
  /// Throws std::invalid_argument when there is no secret, max_body is 0, or the tolerance or
  /// max_future is negative.
  explicit Verifier(VerifierOptions options);
  ~Verifier();
  /// Moves the pipeline; the moved-from object may only be assigned to or destroyed.
  ///@{
  Verifier(Verifier&&) noexcept;
  Verifier& operator=(Verifier&&) noexcept;
  ///@}

  /// Verifies `request` as of `now`. Returns a verdict for every input; throws tykhook::Error
  /// only when the store fails (the delivery did not cause that, and must not be acknowledged).
  [[nodiscard]] Verdict verify(const Request& request, TimePoint now) const;

  /// The options in force.
  [[nodiscard]] const VerifierOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Runs the checks that follow authentication on a body (DESIGN.md's order from malformed_json to
/// schema_violation: envelope, event, schema), for bodies that carry no signature, such as
/// `tykhook schema validate`. `schemas` may be nullptr (no schema check). Never throws.
[[nodiscard]] Verdict check_body(std::string_view body, const SchemaRegistry* schemas,
                                 bool allow_unknown_events);

/// Returns the idempotency key of a body: the lower-case hex SHA-256 of its exact bytes.
[[nodiscard]] std::string idempotency_key(std::string_view body);

}  // namespace tykhook
