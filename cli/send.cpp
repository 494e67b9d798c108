#include <httplib.h>
#include <signal.h>

#include <iostream>

#include "commands.h"
#include "http_client.h"
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
  const auto url = parse_url(options.to, "--header");
  if (!url) return usage("--to " + url.error);
  std::string error;
  const auto extra_headers = extra_headers_of(options.headers, error);
  if (!extra_headers) return usage(error);
  if (const auto wrong = method_error(options.method)) return usage(*wrong);
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

  const auto client = make_client(*url, timeout);
  const std::string secret(loaded.secrets.front().bytes());
  std::size_t answered_2xx = 0;
  for (const auto& delivery : deliveries) {
    httplib::Request request;
    request.method = options.method;
    request.path = url->target;
    request.body = delivery.body;
    request.headers = *extra_headers;
    if (!request.has_header("Content-Type")) request.set_header("Content-Type", "application/json");
    request.set_header("User-Agent", "tykhook-send/" TYKHOOK_VERSION);
    request.set_header(std::string(signature_header), sign(secret, delivery.body));
    const httplib::Result result = client->send(request);
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
