#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "tykhook/timestamp.h"
#include "url.h"

namespace tykhook::cli {

/// What an https server shows as its certificate, checked as a client checks it.
struct CertificateCheck {
  std::string error;  ///< why no certificate was seen (connection, handshake); empty when one was
  bool trusted = false;                ///< its chain verifies against the trusted CAs
  std::string untrusted_reason;        ///< why it does not, as OpenSSL says it
  bool valid_for_host = false;         ///< it names the URL's host (a DNS name or an IP address)
  std::optional<TimePoint> not_after;  ///< when it expires
};

/// Connects to `url` (https) within `timeout`, makes a TLS handshake (SNI for a host name) and
/// checks the server's certificate against the system's CAs, or those of `ca_file` when it is
/// not empty. Never throws: a failure is in `error`.
[[nodiscard]] CertificateCheck check_certificate(const Url& url, std::chrono::milliseconds timeout,
                                                 const std::string& ca_file);

}  // namespace tykhook::cli
