#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "tykhook/request.h"
#include "tykhook/signature.h"

namespace tykhook {

/// Which likely causes `explain_mismatch` tests.
struct ExplainOptions {
  /// Every cause (`verify --explain`): also a byte-order mark, converted line ends, a
  /// Content-Length that disagrees with the body, the body re-encoded, a header quoted, cut,
  /// prefixed or in base64, a secret shaped like a fingerprint. Otherwise only the cheap
  /// ones that `verify` always tries: a final newline, white space around a secret.
  bool every_cause = false;
  /// The largest body that is parsed and re-encoded (every_cause); a larger one is not, and a
  /// line says so.
  std::size_t max_reencoded_body = 64 * 1024;
};

/// Tests likely causes of a `signature_mismatch` (or, with every_cause, of a
/// `malformed_signature`) against `request` and `secrets`, and returns one line for each that
/// fits, naming its evidence ("the signature matches the body without its final newline (under
/// secret 1 of 1): ..."). For diagnosis only: nothing here makes a delivery authentic, and no
/// line holds a secret, a signature or a digest. With every_cause, a request that no cause
/// fits gets one line that starts "no likely cause found" and says what to check next;
/// otherwise such a request, and a request without the header, get no line.
[[nodiscard]] std::vector<std::string> explain_mismatch(const Request& request,
                                                        const std::vector<Secret>& secrets,
                                                        const ExplainOptions& options = {});

}  // namespace tykhook
