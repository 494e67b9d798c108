#include "tykhook/verifier.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "fast_check.h"
#include "json_error_text.h"
#include "sha256.h"
#include "tykhook/schema.h"
#include "tykhook/store.h"

namespace tykhook {

std::string_view to_string(VerdictKind kind) {
  switch (kind) {
    case VerdictKind::ok:
      return "ok";
    case VerdictKind::malformed_request:
      return "malformed_request";
    case VerdictKind::too_large:
      return "too_large";
    case VerdictKind::missing_signature:
      return "missing_signature";
    case VerdictKind::malformed_signature:
      return "malformed_signature";
    case VerdictKind::signature_mismatch:
      return "signature_mismatch";
    case VerdictKind::malformed_json:
      return "malformed_json";
    case VerdictKind::invalid_envelope:
      return "invalid_envelope";
    case VerdictKind::unknown_event:
      return "unknown_event";
    case VerdictKind::schema_violation:
      return "schema_violation";
    case VerdictKind::stale:
      return "stale";
    case VerdictKind::duplicate:
      return "duplicate";
  }
  return "";  // unreachable for a valid enumerator; -Wall flags a missing case above
}

bool is_authentic(VerdictKind kind) {
  switch (kind) {
    case VerdictKind::malformed_request:
    case VerdictKind::too_large:
    case VerdictKind::missing_signature:
    case VerdictKind::malformed_signature:
    case VerdictKind::signature_mismatch:
      return false;
    case VerdictKind::ok:
    case VerdictKind::malformed_json:
    case VerdictKind::invalid_envelope:
    case VerdictKind::unknown_event:
    case VerdictKind::schema_violation:
    case VerdictKind::stale:
    case VerdictKind::duplicate:
      return true;
  }
  return false;
}

int http_status(VerdictKind kind, bool reject_invalid) {
  switch (kind) {
    case VerdictKind::ok:
    case VerdictKind::duplicate:
      return 200;
    case VerdictKind::malformed_request:
      return 400;
    case VerdictKind::too_large:
      return 413;
    case VerdictKind::missing_signature:
    case VerdictKind::malformed_signature:
    case VerdictKind::signature_mismatch:
    case VerdictKind::stale:
      return 401;
    case VerdictKind::malformed_json:
    case VerdictKind::invalid_envelope:
    case VerdictKind::unknown_event:
    case VerdictKind::schema_violation:
      // Authentic, and the portal never resends it: kept and flagged (DESIGN.md).
      return reject_invalid ? 400 : 202;
  }
  return 500;
}

std::string idempotency_key(std::string_view body) {
  return detail::sha256_hex(body, "idempotency key: SHA-256 failed in the crypto library");
}

namespace {

// Says how far `timestamp` is from `now` and in which direction, for the stale message. Either
// may be a saturated end of the range (a time before 1678 or after 2261), whose distance is then
// a lower bound.
std::string distance_from(TimePoint timestamp, TimePoint now) {
  const bool past = timestamp < now;
  const bool saturated = timestamp == TimePoint::min() || timestamp == TimePoint::max() ||
                         now == TimePoint::min() || now == TimePoint::max();
  std::string text = saturated ? "at least " : "";
  text += format_duration(nanoseconds_between(timestamp, now));
  text += past ? " in the past" : " ahead of now";
  if (timestamp == TimePoint::min()) text += " (before the year 1678)";
  if (timestamp == TimePoint::max()) text += " (after the year 2261)";
  return text;
}

// The stale message: how far off the Timestamp is, which bound it broke, and which option moves
// that bound. A Timestamp ahead is the sender's clock ahead of ours (or ours behind): a matter
// for --max-future, apart from the delays that --tolerance allows.
std::string stale_message(const Envelope& envelope, TimePoint now, std::chrono::nanoseconds bound,
                          bool by_max_future) {
  const bool ahead = envelope.timestamp > now;
  std::string text = "/Timestamp: " + envelope.timestamp_text + " is " +
                     distance_from(envelope.timestamp, now) + ", beyond ";
  text += by_max_future ? "the limit for times ahead of " : "the tolerance of ";
  text += format_duration(static_cast<std::uint64_t>(bound.count()), 5);
  if (by_max_future) return text + "; check both clocks, or raise --max-future";
  if (ahead) return text + "; check both clocks, or allow more with --max-future or --tolerance";
  return text + "; check the clocks, or raise --tolerance (off turns the check off)";
}

// The verdict of a body read as `envelope`, ok until a later check says otherwise: the one
// place that names a verdict's event, whichever path read the body.
Verdict read_as(Envelope envelope) {
  Verdict verdict;
  verdict.kind = VerdictKind::ok;
  verdict.event = envelope.event;
  verdict.event_name =
      envelope.event ? std::string(to_string(*envelope.event)) : envelope.event_name;
  verdict.envelope = std::move(envelope);
  return verdict;
}

}  // namespace

Verdict check_body(std::string_view body, const SchemaRegistry* schemas,
                   bool allow_unknown_events) {
  auto parsed = parse_envelope(body);
  if (!parsed.envelope) {
    Verdict verdict;
    verdict.kind = parsed.failure == EnvelopeFailure::malformed_json
                       ? VerdictKind::malformed_json
                       : VerdictKind::invalid_envelope;
    verdict.errors.push_back(std::move(parsed.error));
    return verdict;
  }
  Verdict verdict = read_as(std::move(*parsed.envelope));

  if (!verdict.event && !allow_unknown_events) {
    verdict.kind = VerdictKind::unknown_event;
    verdict.errors.push_back("/Event: " + detail::quote_json_text(*verdict.event_name, 64) +
                             " is not a portal event; check the name (case-sensitive), or " +
                             "allow unknown events (--allow-unknown-events)");
    return verdict;
  }
  if (schemas != nullptr && verdict.event) {
    verdict.errors = schemas->validate(*verdict.event, verdict.envelope->message);
    if (!verdict.errors.empty()) {
      verdict.kind = VerdictKind::schema_violation;
      return verdict;
    }
  }
  return verdict;
}

struct Verifier::Impl {
  VerifierOptions options;
  SignatureVerifier signatures;
  detail::FastChecker fast;

  explicit Impl(VerifierOptions opts)
      : options(std::move(opts)),
        signatures(options.secrets),
        fast(options.schemas.get(), options.allow_unknown_events) {}
};

Verifier::Verifier(VerifierOptions options) {
  if (options.secrets.empty()) {
    throw std::invalid_argument("tykhook::Verifier: no secret; give at least one Secret");
  }
  if (options.max_body == 0) {
    throw std::invalid_argument("tykhook::Verifier: max_body is 0; give a positive limit");
  }
  if (options.tolerance && *options.tolerance < std::chrono::nanoseconds::zero()) {
    throw std::invalid_argument(
        "tykhook::Verifier: negative tolerance; give 0 or more, or none to turn the check off");
  }
  if (options.max_future && *options.max_future < std::chrono::nanoseconds::zero()) {
    throw std::invalid_argument(
        "tykhook::Verifier: negative max_future; give 0 or more, or none to use the tolerance");
  }
  impl_ = std::make_unique<Impl>(std::move(options));
}

Verifier::~Verifier() = default;
Verifier::Verifier(Verifier&&) noexcept = default;
Verifier& Verifier::operator=(Verifier&&) noexcept = default;

const VerifierOptions& Verifier::options() const { return impl_->options; }

Verdict Verifier::verify(const Request& request, TimePoint now) const {
  const VerifierOptions& options = impl_->options;
  Verdict verdict;
  const auto fail = [&verdict](VerdictKind kind, std::string message) {
    verdict.kind = kind;
    verdict.errors.push_back(std::move(message));
    return std::move(verdict);
  };

  // DESIGN.md, "Verdicts": the first failing check names the verdict.
  if (request.body.size() > options.max_body) {
    return fail(VerdictKind::too_large, "body: " + std::to_string(request.body.size()) +
                                            " bytes is over the limit of " +
                                            std::to_string(options.max_body) +
                                            " bytes; raise --max-body if this delivery is real");
  }
  const auto headers = request.header_values(signature_header);
  const std::string where(signature_header);
  if (headers.empty()) {
    return fail(VerdictKind::missing_signature,
                where + ": header missing; the portal sends it with every delivery: the " +
                    "hex HMAC-SHA256 of the body under the webhook's secret");
  }
  if (headers.size() > 1) {
    return fail(VerdictKind::malformed_signature, where + ": header appears " +
                                                      std::to_string(headers.size()) +
                                                      " times; a delivery carries exactly one");
  }
  const auto digest = parse_signature_header(headers.front());
  if (!digest) return fail(VerdictKind::malformed_signature, digest.error);

  // Verify before parsing: the HMAC covers the exact bytes, and re-serialising changes them
  // (Go writes '<' as \u003c). DESIGN.md, "Data flows one way".
  verdict.secret_index = impl_->signatures.match(request.body, *digest);
  if (!verdict.secret_index) {
    const auto count = impl_->signatures.size();
    return fail(VerdictKind::signature_mismatch,
                where + ": does not match the body under " +
                    (count == 1 ? std::string("the configured secret")
                                : "any of the " + std::to_string(count) + " configured secrets") +
                    "; check the secret, and that the body was not changed after signing");
  }
  verdict.idempotency_key = idempotency_key(request.body);

  // The fast path reads most deliveries, and only those that pass every check of the body;
  // whatever it declines, check_body decides and words. The two agree on every body that the
  // fast path reads (tests/fast_check_test.cpp).
  std::optional<Envelope> fast = impl_->fast.check(request.body, options.keep_message);
  Verdict checked =
      fast ? read_as(std::move(*fast))
           : check_body(request.body, options.schemas.get(), options.allow_unknown_events);
  if (!options.keep_message && checked.envelope) checked.envelope->message = nullptr;
  checked.secret_index = verdict.secret_index;
  checked.idempotency_key = std::move(verdict.idempotency_key);
  verdict = std::move(checked);
  if (!verdict.ok()) return verdict;
  const TimePoint timestamp = verdict.envelope->timestamp;

  // A Timestamp ahead of now answers to max_future when it is set, else to the tolerance.
  const bool by_max_future = timestamp > now && options.max_future.has_value();
  const auto bound = by_max_future ? options.max_future : options.tolerance;
  if (bound && !within_tolerance(timestamp, now, *bound)) {
    return fail(VerdictKind::stale, stale_message(*verdict.envelope, now, *bound, by_max_future));
  }
  const bool first = options.claim ? options.claim(request, verdict, now)
                     : options.store
                         ? options.store->claim(verdict.idempotency_key, options.store_ttl)
                         : true;
  if (!first) {
    return fail(VerdictKind::duplicate, "delivery " + verdict.idempotency_key.substr(0, 16) +
                                            "... was seen before; it is not processed again");
  }
  verdict.kind = VerdictKind::ok;
  return verdict;
}

}  // namespace tykhook
