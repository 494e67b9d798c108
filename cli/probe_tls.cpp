#include "probe_tls.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>

namespace tykhook::cli {
namespace {

// A connected TCP socket to `url`'s host and port, or -1 with `error` set.
int connect_socket(const Url& url, std::chrono::milliseconds timeout, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int failed =
          ::getaddrinfo(url.host.c_str(), std::to_string(url.port).c_str(), &hints, &found);
      failed != 0) {
    error = std::string("cannot resolve the host: ") + ::gai_strerror(failed);
    return -1;
  }
  int connected = -1;
  error = "cannot connect";
  for (const addrinfo* address = found; address != nullptr; address = address->ai_next) {
    const int fd = ::socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    // Blocking, with a limit on each send and receive: connect and the handshake wait no longer.
    const timeval limit{static_cast<time_t>(timeout.count() / 1000),
                        static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    if (::connect(fd, address->ai_addr, address->ai_addrlen) == 0) {
      connected = fd;
      error.clear();
      break;
    }
    error = std::string("cannot connect: ") +
            (errno == EINPROGRESS ? "timed out" : std::strerror(errno));
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return connected;
}

bool is_ip_address(const std::string& host) {
  unsigned char address[16];
  return ::inet_pton(AF_INET, host.c_str(), address) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), address) == 1;
}

std::string openssl_error() {
  const unsigned long code = ::ERR_get_error();
  if (code == 0) return "the server closed the connection, or did not answer in time";
  char text[256];
  ::ERR_error_string_n(code, text, sizeof text);
  return text;
}

}  // namespace

CertificateCheck check_certificate(const Url& url, std::chrono::milliseconds timeout,
                                   const std::string& ca_file) {
  CertificateCheck check;
  ::ERR_clear_error();
  const std::unique_ptr<SSL_CTX, decltype(&::SSL_CTX_free)> context(
      ::SSL_CTX_new(::TLS_client_method()), ::SSL_CTX_free);
  if (!context) {
    check.error = "cannot set up TLS: " + openssl_error();
    return check;
  }
  const bool loaded = ca_file.empty() ? ::SSL_CTX_set_default_verify_paths(context.get()) == 1
                                      : ::SSL_CTX_load_verify_locations(
                                            context.get(), ca_file.c_str(), nullptr) == 1;
  if (!loaded) {
    check.error = ca_file.empty() ? "cannot load the system's CAs: " + openssl_error()
                                  : "--cacert \"" + ca_file + "\": cannot read its certificates (" +
                                        openssl_error() + "); give a PEM file";
    return check;
  }
  // The handshake goes on whatever the verification finds, so that the certificate can be
  // described; the verdict is read afterwards.
  ::SSL_CTX_set_verify(context.get(), SSL_VERIFY_NONE, nullptr);
  const int fd = connect_socket(url, timeout, check.error);
  if (fd < 0) return check;
  const std::unique_ptr<SSL, decltype(&::SSL_free)> ssl(::SSL_new(context.get()), ::SSL_free);
  const bool ip = is_ip_address(url.host);
  if (!ssl || ::SSL_set_fd(ssl.get(), fd) != 1 ||
      (!ip && ::SSL_set_tlsext_host_name(ssl.get(), url.host.c_str()) != 1) ||
      ::SSL_connect(ssl.get()) != 1) {
    check.error = "TLS handshake failed: " + openssl_error();
    ::close(fd);
    return check;
  }
  const std::unique_ptr<X509, decltype(&::X509_free)> certificate(
      ::SSL_get1_peer_certificate(ssl.get()), ::X509_free);
  ::SSL_shutdown(ssl.get());
  ::close(fd);
  if (!certificate) {
    check.error = "the server showed no certificate";
    return check;
  }
  const long verified = ::SSL_get_verify_result(ssl.get());
  check.trusted = verified == X509_V_OK;
  if (!check.trusted) check.untrusted_reason = ::X509_verify_cert_error_string(verified);
  check.valid_for_host =
      ip ? ::X509_check_ip_asc(certificate.get(), url.host.c_str(), 0) == 1
         : ::X509_check_host(certificate.get(), url.host.c_str(), url.host.size(), 0, nullptr) == 1;
  std::tm expires{};
  if (::ASN1_TIME_to_tm(::X509_get0_notAfter(certificate.get()), &expires) == 1) {
    check.not_after = std::chrono::time_point_cast<TimePoint::duration>(
        std::chrono::system_clock::from_time_t(::timegm(&expires)));
  }
  return check;
}

}  // namespace tykhook::cli
