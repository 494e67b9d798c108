#pragma once

// Private to the library: how the receiver keeps the authentic deliveries it answers (README,
// "Captures"): a request as a capture holds it, and the capture file of each authentic delivery
// that is not a duplicate, written before the answer so that an acknowledged delivery is never
// lost.

#include <memory>
#include <optional>
#include <string>

#include "capture_writer.h"
#include "tykhook/receiver.h"
#include "tykhook/verifier.h"

namespace tykhook::detail {

/// Why a delivery could not be kept: the store or the capture file failed. Either way the
/// delivery is answered 503, and the portal's delivery counts as failed.
struct KeepFailure {
  enum class Where { store, capture } where;
  std::string error;  ///< what failed, for the log line; never a secret
};

/// Keeps the authentic deliveries of one receiver. Thread-safe.
class Keeper {
 public:
  /// Writes captures under `options.capture_dir` when it is set; throws tykhook::Error when the
  /// directory cannot be created or opened.
  explicit Keeper(const ReceiverOptions& options);

  /// `request` as a capture holds it: its target's bytes outside visible ASCII
  /// percent-encoded, and the value of the required header (a credential of the transport)
  /// replaced by `[redacted]`. Only the body and the signature are verified, so it re-verifies.
  [[nodiscard]] Request for_capture(const Request& request) const;

  /// Writes the capture of `request` with its `verdict`, arrived at `now`, when it is authentic,
  /// not a duplicate, and captures are on. An authentic delivery that failed a later check
  /// (kept and flagged, never handled) gets a claim of its own first, so that a copy sent again
  /// is not captured twice. When the capture cannot be written, the delivery's claims are
  /// released (and its queue entry dropped) so that the portal may send it again.
  [[nodiscard]] std::optional<KeepFailure> keep(const Request& request, const Verdict& verdict,
                                                TimePoint now) const;

  /// Whether captures are written (a delivery then waits for the disk).
  [[nodiscard]] bool captures() const { return captures_ != nullptr; }
  /// What the capture directory held from an interrupted run, set right at the start.
  [[nodiscard]] CaptureRecovery recovery() const;

 private:
  void release(const std::string& key, std::string& error) const;

  const ReceiverOptions& options_;
  std::unique_ptr<CaptureWriter> captures_;
};

}  // namespace tykhook::detail
