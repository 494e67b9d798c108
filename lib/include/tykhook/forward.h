#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tykhook/request.h"
#include "tykhook/worker.h"

namespace tykhook {

/// How `--forward-to` sends deliveries to the application (DESIGN.md, "Handing deliveries on").
struct ForwardOptions {
  std::string url;              ///< http://HOST[:PORT][/PATH] or https://...
  std::vector<Header> headers;  ///< --forward-header: added to every forwarded request
  std::chrono::milliseconds timeout{10'000};  ///< --forward-timeout: connect, send and answer
  std::string ca_file;  ///< --cacert: trust these certificates for https instead of the system's
};

/// A target that sends each delivery to `options.url` over keep-alive connections: its own
/// method, exact body, Content-Type and X-Signature-SHA256, plus X-Tykhook-Delivery,
/// X-Tykhook-Attempt, X-Tykhook-Event and the extra headers. 2xx: done; 408, 425, 429, 5xx, a
/// connection failure or a timeout: retry (Retry-After honoured); any other status: dead.
/// Throws tykhook::Error when the URL is not http(s) or the CA file cannot be read. Part of
/// tykhook::receiver.
[[nodiscard]] std::unique_ptr<Target> forward_target(ForwardOptions options);

}  // namespace tykhook
