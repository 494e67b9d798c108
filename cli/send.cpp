#include <httplib.h>
#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "commands.h"
#include "header_option.h"
#include "tykhook/envelope.h"
#include "tykhook/events.h"
#include "tykhook/signature.h"
#include "tykhook/timestamp.h"
#include "url.h"

namespace tykhook::cli {
namespace {

// The most of a response body that is printed; the rest is counted.
constexpr std::size_t max_printed_body = 64 * 1024;

/// One delivery to send: what the output calls it, and its body.
struct Delivery {
  std::string label;
  std::string body;
};

/// The sample body of `event` with a fresh Timestamp, every other byte as the portal sends it;
/// nullopt for an event without a sample (RegisterInvite: the portal documents no payload).
std::optional<std::string> fresh_sample(Event event, TimePoint now) {
  const auto sample = sample_body(event);
  if (!sample) return std::nullopt;
  auto stamped = with_timestamp(*sample, now);
  if (!stamped) throw Error("sample of " + std::string(to_string(event)) + ": " + stamped.error);
  return std::move(*stamped);
}

/// Why a connection to `url` fails, as the system says it ("Connection refused"): the HTTP
/// client reports only that it failed, so the connection is tried once more, directly.
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

/// The message for a request that got no response: "<what>; <how to fix>".
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

void print_response(const std::string& label, const httplib::Response& response) {
  std::cout << label << ": HTTP " << response.status;
  if (!response.reason.empty()) std::cout << ' ' << response.reason;
  std::cout << '\n';
  if (response.has_header("X-Tykhook-Verdict")) {
    std::cout << "X-Tykhook-Verdict: " << response.get_header_value("X-Tykhook-Verdict") << '\n';
  }
  const std::string& body = response.body;
  if (body.empty()) return;
  std::cout.write(body.data(),
                  static_cast<std::streamsize>(std::min(body.size(), max_printed_body)));
  if (body.size() > max_printed_body) {
    std::cout << "\n... (" << body.size() - max_printed_body << " more bytes)";
  }
  if (body.back() != '\n' || body.size() > max_printed_body) std::cout << '\n';
}

}  // namespace

int run_send(const SendOptions& options) {
  // A receiver that answers early and closes (413) would otherwise kill us mid-upload; the
  // failed write is reported instead.
  signal(SIGPIPE, SIG_IGN);
  const auto usage = [](const std::string& message) {
    std::cerr << "tykhook send: " << message << '\n';
    return exit_usage;
  };
  if (options.event.empty() && options.body.empty() && !options.all) {
    return usage("nothing to send; give --event NAME, --body FILE or --all");
  }
  auto loaded = load_secrets(options.secrets);
  for (const auto& warning : loaded.warnings) {
    std::cerr << "tykhook send: warning: " << warning << '\n';
  }
  for (const auto& error : loaded.errors) std::cerr << "tykhook send: " << error << '\n';
  if (loaded.secrets.empty() || !loaded.errors.empty()) return exit_usage;
  const auto url = parse_url(options.to);
  if (!url) return usage("--to " + url.error);
  httplib::Headers extra_headers;
  for (const auto& text : options.headers) {
    const auto header = parse_header_option(text);
    if (!header) {
      return usage("--header: " + header_option_error(text));
    }
    extra_headers.emplace(header->name, header->value);
  }
  if (options.method.empty() || options.method.find_first_of(" \t\r\n") != std::string::npos) {
    return usage("--method \"" + options.method + "\": expected a method, e.g. POST or PUT");
  }
  const auto timeout = *parse_duration(options.timeout);

  std::vector<Delivery> deliveries;
  const TimePoint now = std::chrono::time_point_cast<std::chrono::nanoseconds>(Clock::now());
  if (!options.body.empty()) {
    try {
      deliveries.push_back({options.body, read_input(options.body)});
    } catch (const Error& error) {
      return usage(std::string("--body ") + error.what());
    }
  } else if (!options.all) {
    const Event event = *parse_event(options.event);  // event_check() let only names through
    auto body = fresh_sample(event, now);
    if (!body) {
      return usage("--event " + std::string(to_string(event)) +
                   ": no sample body, as the portal documents no payload for it; write one "
                   "and send it with --body FILE");
    }
    deliveries.push_back({std::string(to_string(event)), std::move(*body)});
  } else {
    for (const Event event : all_events()) {
      auto body = fresh_sample(event, now);
      if (!body) {
        std::cerr << "tykhook send: " << to_string(event)
                  << ": skipped; the portal documents no payload for it\n";
        continue;
      }
      deliveries.push_back({std::string(to_string(event)), std::move(*body)});
    }
  }

  httplib::Client client(url->scheme + "://" + url->authority());
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  client.set_tcp_nodelay(true);
  const std::string secret(loaded.secrets.front().bytes());
  std::size_t answered_2xx = 0;
  for (const auto& delivery : deliveries) {
    httplib::Request request;
    request.method = options.method;
    request.path = url->target;
    request.body = delivery.body;
    request.headers = extra_headers;
    if (!request.has_header("Content-Type")) request.set_header("Content-Type", "application/json");
    request.set_header("User-Agent", "tykhook-send/" TYKHOOK_VERSION);
    request.set_header(std::string(signature_header), sign(secret, delivery.body));
    const httplib::Result result = client.send(request);
    if (!result) {
      std::cout.flush();
      return usage(options.to + ": " +
                   failure_message(result.error(), *url, timeout, options.timeout));
    }
    print_response(delivery.label, *result);
    if (result->status >= 200 && result->status < 300) ++answered_2xx;
  }
  if (options.all) {
    std::cerr << "tykhook send: " << answered_2xx << " of " << deliveries.size()
              << " deliveries answered 2xx\n";
  }
  std::cout.flush();
  return answered_2xx == deliveries.size() ? exit_ok : exit_rejected;
}

}  // namespace tykhook::cli
