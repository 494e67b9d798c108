#include <httplib.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "http_url.h"
#include "tykhook/error.h"
#include "tykhook/forward.h"
#include "tykhook/timestamp.h"

namespace tykhook {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view url_form =
    "use http://HOST[:PORT][/PATH] or https://..., e.g. http://127.0.0.1:9000/hook";

// The parts of --forward-to that a request needs.
struct ForwardUrl {
  std::string origin;  ///< "http://127.0.0.1:9000": what a client connects to
  std::string path;    ///< path and query, "/" when empty
  /// For messages: origin and path without the query, which may carry a token.
  std::string shown;
};

ForwardUrl parse_forward_url(std::string_view text) {
  const auto url = detail::parse_http_url(text, "--forward-header");
  if (!url) {
    throw Error("--forward-to \"" + detail::shown_url(text) + "\": " + url.error + "; " +
                std::string(url_form));
  }
  ForwardUrl forward{.origin = url->origin(), .path = url->target, .shown = {}};
  // Without the query, which may carry a token.
  forward.shown = forward.origin + forward.path.substr(0, forward.path.find('?'));
  return forward;
}

// A header value as it may go on the wire: a control byte (CR, LF, NUL) would end the header or
// start another, and the event name of an allowed unknown event is the sender's text.
std::string header_safe(std::string_view value) {
  std::string safe(value);
  for (char& c : safe) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && byte != '\t') || byte == 0x7f) c = '?';
  }
  return safe;
}

std::string seconds_text(std::chrono::milliseconds duration) {
  return format_duration(
      static_cast<std::uint64_t>(std::max<long long>(duration.count(), 0)) * 1'000'000, 5);
}

// Parses an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), the form RFC 9110 (5.6.7) says a
// sender must use; the two obsolete forms are not read (a malformed Retry-After is ignored).
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view text) {
  if (text.size() != 29 || text.substr(3, 2) != ", " || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT") {
    return std::nullopt;
  }
  const auto number = [text](std::size_t at, std::size_t length) -> std::optional<int> {
    int value = 0;
    const char* begin = text.data() + at;
    const auto [end, ec] = std::from_chars(begin, begin + length, value);
    if (ec != std::errc() || end != begin + length) return std::nullopt;
    return value;
  };
  constexpr std::string_view months = "JanFebMarAprMayJunJulAugSepOctNovDec";
  const auto month = months.find(text.substr(8, 3));
  const auto day = number(5, 2);
  const auto year = number(12, 4);
  const auto hour = number(17, 2);
  const auto minute = number(20, 2);
  const auto second = number(23, 2);
  if (month == std::string_view::npos || month % 3 != 0 || !day || !year || !hour || !minute ||
      !second || *hour > 23 || *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year(*year),
                                         std::chrono::month(static_cast<unsigned>(month / 3 + 1)),
                                         std::chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok()) return std::nullopt;
  return std::chrono::sys_days(date) + std::chrono::hours(*hour) + std::chrono::minutes(*minute) +
         std::chrono::seconds(*second);
}

// Retry-After (RFC 9110, 10.2.3): delay-seconds or an HTTP-date; nullopt when malformed.
std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view text, std::chrono::system_clock::time_point now) {
  if (!text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) != 0;
      })) {
    // More than a century is as good as forever: the worker caps the wait anyway.
    constexpr std::uint64_t most_seconds = 100ULL * 366 * 24 * 3600;
    std::uint64_t seconds = most_seconds;
    std::from_chars(text.data(), text.data() + text.size(), seconds);  // overflow keeps the most
    return std::chrono::seconds(std::min(seconds, most_seconds));
  }
  const auto date = parse_http_date(text);
  if (!date) return std::nullopt;
  return std::max(std::chrono::duration_cast<std::chrono::milliseconds>(*date - now),
                  std::chrono::milliseconds(0));
}

bool is_retried_status(int status) {
  return status == 408 || status == 425 || status == 429 || (status >= 500 && status <= 599);
}

// The reason phrase as the server sent it, printable ASCII only and short.
std::string reason_text(const std::string& reason) {
  std::string text;
  for (const char c : reason.substr(0, 60)) {
    text += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return text;
}

class ForwardTarget final : public Target {
 public:
  explicit ForwardTarget(ForwardOptions options)
      : options_(std::move(options)), url_(parse_forward_url(options_.url)) {
    if (!options_.ca_file.empty() && !std::ifstream(options_.ca_file).good()) {
      throw Error("--cacert \"" + options_.ca_file + "\": cannot read the file (" +
                  std::generic_category().message(errno) +
                  "); give a PEM file of the certificates to trust");
    }
    if (options_.timeout.count() <= 0) {
      throw std::invalid_argument("forward_target: the timeout must be positive");
    }
  }

  AttemptResult attempt(const QueueEntry& entry) override {
    httplib::Request request;
    request.method = entry.request.method;
    request.path = url_.path;
    request.body = entry.request.body;
    const auto content_type = entry.request.header_values("Content-Type");
    request.set_header("Content-Type", content_type.empty() ? "application/json"
                                                            : header_safe(content_type.front()));
    for (const auto value : entry.request.header_values("X-Signature-SHA256")) {
      request.set_header("X-Signature-SHA256", header_safe(value));
    }
    request.set_header("X-Tykhook-Delivery", header_safe(entry.key));
    request.set_header("X-Tykhook-Attempt", std::to_string(entry.attempts));
    request.set_header("X-Tykhook-Event", header_safe(entry.event));
    request.set_header("User-Agent", "tykhook");
    for (const auto& header : options_.headers) {
      request.set_header(header.name, header_safe(header.value));
    }

    auto client = take_client();
    const auto started = Clock::now();
    httplib::Response response;
    httplib::Error error = httplib::Error::Success;
    const bool sent = client->send(request, response, error);
    const auto elapsed = Clock::now() - started;
    if (!sent) {
      // The connection is in an unknown state: a new client starts afresh.
      return transport_failure(error, elapsed, *client);
    }
    give_back(std::move(client));
    const int status = response.status;
    if (status >= 200 && status <= 299) return {};
    AttemptResult result;
    result.error = url_.shown + ": " + std::to_string(status);
    if (!response.reason.empty()) result.error += " " + reason_text(response.reason);
    if (!is_retried_status(status)) {
      result.outcome = AttemptOutcome::dead;
      return result;
    }
    result.outcome = AttemptOutcome::retry;
    if (response.has_header("Retry-After")) {
      result.retry_after = parse_retry_after(response.get_header_value("Retry-After"),
                                             std::chrono::system_clock::now());
    }
    return result;
  }

  std::string describe() const override { return url_.shown; }

 private:
  std::unique_ptr<httplib::Client> take_client() {
    {
      const std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        auto client = std::move(idle_.back());
        idle_.pop_back();
        return client;
      }
    }
    auto client = std::make_unique<httplib::Client>(url_.origin);
    const auto timeout = std::chrono::duration_cast<std::chrono::microseconds>(options_.timeout);
    const auto seconds = static_cast<time_t>(timeout.count() / 1'000'000);
    const auto microseconds = static_cast<time_t>(timeout.count() % 1'000'000);
    client->set_connection_timeout(seconds, microseconds);
    client->set_read_timeout(seconds, microseconds);
    client->set_write_timeout(seconds, microseconds);
    client->set_keep_alive(true);
    // Headers and body leave in separate writes: without TCP_NODELAY the body waits for the
    // peer's delayed ACK, 40 ms an attempt on Linux.
    client->set_tcp_nodelay(true);
    client->set_follow_location(false);
    client->set_decompress(false);
    client->set_url_encode(false);  // the path goes as the URL spells it
    client->enable_server_certificate_verification(true);
    if (!options_.ca_file.empty()) client->set_ca_cert_path(options_.ca_file);
    return client;
  }

  void give_back(std::unique_ptr<httplib::Client> client) {
    const std::lock_guard lock(mutex_);
    idle_.push_back(std::move(client));
  }

  AttemptResult transport_failure(httplib::Error error, Clock::duration elapsed,
                                  const httplib::Client& client) const {
    const bool out_of_time = elapsed >= options_.timeout;
    std::string what;
    switch (error) {
      case httplib::Error::Connection:
        what = out_of_time ? "" : "cannot connect (connection refused or host unreachable)";
        break;
      case httplib::Error::ConnectionTimeout:
        what = "";
        break;
      case httplib::Error::Read:
        what = out_of_time ? "" : "the connection closed before a whole answer came";
        break;
      case httplib::Error::Write:
        what = out_of_time ? "" : "the connection closed while the request was sent";
        break;
      case httplib::Error::SSLConnection:
        what = "the TLS handshake failed";
        break;
      case httplib::Error::SSLServerVerification: {
        const long code = client.get_openssl_verify_result();
        what = "the server's certificate is not trusted (" +
               std::string(X509_verify_cert_error_string(code)) +
               "); give the CA that signed it with --cacert";
        break;
      }
      case httplib::Error::SSLLoadingCerts:
        what = "cannot load the CA certificates; check --cacert names a PEM file";
        break;
      default:
        what = "the request failed (" + httplib::to_string(error) + ")";
        break;
    }
    if (what.empty()) what = "timed out after " + seconds_text(options_.timeout);
    return {AttemptOutcome::retry, url_.shown + ": " + what, std::nullopt};
  }

  ForwardOptions options_;
  ForwardUrl url_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<httplib::Client>> idle_;
};

}  // namespace

std::unique_ptr<Target> forward_target(ForwardOptions options) {
  return std::make_unique<ForwardTarget>(std::move(options));
}

}  // namespace tykhook
