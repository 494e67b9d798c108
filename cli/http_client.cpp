#include "http_client.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "header_option.h"
#include "output.h"
#include "tykhook/envelope.h"
#include "tykhook/error.h"

namespace tykhook::cli {
namespace {

/// Why a connection to `url` fails, as the system says it ("Connection refused").
std::string connect_failure(const Url& url, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int error =
          ::getaddrinfo(url.host.c_str(), std::to_string(url.port).c_str(), &hints, &found);
      error != 0) {
    return std::string("cannot resolve the host: ") + ::gai_strerror(error);
  }
  std::string reason = "connection failed";
  for (const addrinfo* address = found; address != nullptr; address = address->ai_next) {
    const int fd = ::socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    timeval limit{static_cast<time_t>(timeout.count() / 1000),
                  static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    const bool connected = ::connect(fd, address->ai_addr, address->ai_addrlen) == 0;
    const int error = errno;
    ::close(fd);
    if (connected) {
      reason = "connection failed, then succeeded on a second try";
      break;
    }
    reason = error == EINPROGRESS ? "timed out" : std::strerror(error);
  }
  ::freeaddrinfo(found);
  return reason;
}

}  // namespace

std::unique_ptr<httplib::Client> make_client(const Url& url, std::chrono::milliseconds timeout) {
  auto client = std::make_unique<httplib::Client>(url.scheme + "://" + url.authority());
  client->set_connection_timeout(timeout);
  client->set_read_timeout(timeout);
  client->set_write_timeout(timeout);
  client->set_tcp_nodelay(true);
  return client;
}

std::string failure_message(httplib::Error error, const Url& url, std::chrono::milliseconds timeout,
                            const std::string& timeout_text) {
  switch (error) {
    case httplib::Error::Connection:
      return "cannot connect: " + connect_failure(url, timeout) + "; is the receiver running?";
    case httplib::Error::ConnectionTimeout:
      return "cannot connect within --timeout " + timeout_text + "; check the host and the port";
    case httplib::Error::Read:
      return "no response within --timeout " + timeout_text +
             ", or the connection closed first; check that the URL is an HTTP receiver";
    case httplib::Error::Write:
      return "the connection closed while the request was sent; check the receiver's log";
    case httplib::Error::SSLConnection:
    case httplib::Error::SSLLoadingCerts:
    case httplib::Error::SSLServerVerification:
      return "TLS failed (" + httplib::to_string(error) +
             "); check the server's certificate, or use http://";
    default:
      return "request failed (" + httplib::to_string(error) + "); check the URL";
  }
}

std::optional<httplib::Headers> extra_headers_of(const std::vector<std::string>& options,
                                                 std::string& error) {
  httplib::Headers headers;
  for (const auto& text : options) {
    const auto header = parse_header_option(text);
    if (!header) {
      error = "--header: " + header_option_error(text);
      return std::nullopt;
    }
    headers.emplace(header->name, header->value);
  }
  return headers;
}

std::optional<std::string> method_error(const std::string& method) {
  if (!method.empty() && method.find_first_of(" \t\r\n") == std::string::npos) return std::nullopt;
  return "--method \"" + loggable(method, 32, true) + "\": expected a method, e.g. POST or PUT";
}

std::optional<std::string> fresh_sample(Event event, TimePoint now) {
  const auto sample = sample_body(event);
  if (!sample) return std::nullopt;
  auto stamped = with_timestamp(*sample, now);
  if (!stamped) throw Error("sample of " + std::string(to_string(event)) + ": " + stamped.error);
  return std::move(*stamped);
}

}  // namespace tykhook::cli
