#pragma once

// Certificates for the HTTPS servers of the tests, made when a test runs: no file of the
// repository holds a private key.

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <memory>
#include <string>

namespace tykhook::test {

/// A self-signed certificate (a CA of its own) and its key, with the certificate in PEM.
struct Certificate {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{nullptr, EVP_PKEY_free};
  std::unique_ptr<X509, decltype(&X509_free)> cert{nullptr, X509_free};
  std::string pem;
};

/// A certificate for IP address 127.0.0.1 (subjectAltName) with common name `name`, valid from
/// an hour ago until `valid_for` from now.
Certificate make_certificate(const std::string& name,
                             std::chrono::seconds valid_for = std::chrono::hours(1));

}  // namespace tykhook::test
