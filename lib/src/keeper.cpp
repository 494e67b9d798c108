#include "keeper.h"

#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include "hex.h"
#include "http_syntax.h"
#include "tykhook/error.h"
#include "tykhook/store.h"

namespace tykhook::detail {
namespace {

// The claims of authentic deliveries that failed a later check (kept and flagged, never
// handled) live apart from the verifier's claims, so that a future-dated `stale` delivery that
// is resent in time is still processed. They only stop a resent copy from being captured again.
constexpr std::string_view kept_prefix = "kept:";

// A request target as a capture may hold it: bytes outside visible ASCII percent-encoded. Only
// the body and the signature header are verified, so the target may change this way.
std::string visible_target(std::string_view target) {
  std::string visible;
  visible.reserve(target.size());
  for (const char c : target) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte > 0x20 && byte < 0x7f) {
      visible += c;
    } else {
      visible += '%';
      visible += upper_hex_digits[byte >> 4];
      visible += upper_hex_digits[byte & 0x0f];
    }
  }
  return visible;
}

}  // namespace

Keeper::Keeper(const ReceiverOptions& options) : options_(options) {
  if (!options_.capture_dir.empty()) {
    captures_ = std::make_unique<CaptureWriter>(options_.capture_dir);
  }
}

Request Keeper::for_capture(const Request& request) const {
  Request capture = request;
  capture.target = visible_target(request.target);
  // The required header is a credential of the transport, not part of the delivery: a capture
  // re-verifies without it, and holds no secret.
  if (options_.required_header) {
    for (auto& header : capture.headers) {
      if (header_name_equals(header.name, options_.required_header->name)) {
        header.value = "[redacted]";
      }
    }
  }
  return capture;
}

std::optional<KeepFailure> Keeper::keep(const Request& request, const Verdict& verdict,
                                        TimePoint now) const {
  const VerdictKind kind = verdict.kind;
  if (!captures_ || !is_authentic(kind) || kind == VerdictKind::duplicate) return std::nullopt;
  std::string claim;  // the claim to release if the capture cannot be written
  if (options_.verifier.store) {
    if (kind == VerdictKind::ok) {
      claim = verdict.idempotency_key;
    } else {
      claim = std::string(kept_prefix) + verdict.idempotency_key;
      try {
        if (!options_.verifier.store->claim(claim, options_.verifier.store_ttl)) {
          return std::nullopt;  // kept before
        }
      } catch (const Error& failure) {
        return KeepFailure{KeepFailure::Where::store, failure.what()};
      }
    }
  }
  try {
    captures_->write(for_capture(request), now, verdict.idempotency_key);
  } catch (const std::exception& failure) {
    std::string error = failure.what();
    release(claim, error);
    return KeepFailure{KeepFailure::Where::capture, std::move(error)};
  }
  return std::nullopt;
}

CaptureRecovery Keeper::recovery() const {
  return captures_ ? captures_->recovery() : CaptureRecovery{};
}

void Keeper::release(const std::string& key, std::string& error) const {
  if (key.empty() || !options_.verifier.store) return;
  try {
    // A queued delivery that could not be captured is not acknowledged: it leaves the queue too.
    if (options_.delivery.target) (void)options_.verifier.store->drop(key);
    options_.verifier.store->release(key);
  } catch (const std::exception& failure) {
    error += std::string("; releasing its claim failed too: ") + failure.what();
  }
}

}  // namespace tykhook::detail
