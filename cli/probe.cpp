// `tykhook probe`: checks an endpoint as the portal will use it (DESIGN.md, "What the portal
// sends"): its certificate, the HEAD of Test Connection, and a signed delivery, each within the
// webhook's timeout. Prints a checklist; every failure says what to change.
#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "http_client.h"
#include "output.h"
#include "probe_tls.h"
#include "tykhook/signature.h"
#include "tykhook/timestamp.h"
#include "url.h"

namespace tykhook::cli {
namespace {

/// A certificate that expires sooner than this is a warning: renew it.
constexpr int expiry_warning_days = 14;

enum class CheckResult { pass, warn, fail };

std::string_view to_string(CheckResult result) {
  switch (result) {
    case CheckResult::pass:
      return "pass";
    case CheckResult::warn:
      return "warn";
    case CheckResult::fail:
      return "fail";
  }
  return "fail";
}

/// One line of the checklist.
struct Check {
  std::string name;  ///< certificate, test_connection, delivery
  CheckResult result = CheckResult::pass;
  std::string message;  ///< what was found
  std::string fix;      ///< what the portal's admin (or the endpoint's owner) must change
  std::optional<int> status;
  std::optional<std::string> verdict;
  std::optional<double> ms;
  std::optional<TimePoint> expires;  ///< certificate only
  std::optional<long> days_left;     ///< certificate only
};

std::string milliseconds_text(double ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2fms", ms);
  return text;
}

void print_check(const Check& check, const std::string& format) {
  if (format == "json") {
    using json = nlohmann::ordered_json;
    json line;
    line["check"] = check.name;
    line["result"] = to_string(check.result);
    line["status"] = check.status ? json(*check.status) : nullptr;
    line["verdict"] = check.verdict ? json(*check.verdict) : nullptr;
    line["ms"] = check.ms ? json(std::round(*check.ms * 100) / 100) : nullptr;
    if (check.name == "certificate") {
      line["expires"] = check.expires ? json(format_rfc3339(*check.expires)) : nullptr;
      line["days_left"] = check.days_left ? json(*check.days_left) : nullptr;
    }
    line["message"] = check.message;
    line["fix"] = check.fix.empty() ? json() : json(check.fix);
    std::cout << line.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
    return;
  }
  const std::string label =
      check.result == CheckResult::fail ? "FAIL" : std::string(to_string(check.result));
  std::cout << label << "  " << check.message << '\n';
  if (!check.fix.empty()) std::cout << "      fix: " << check.fix << '\n';
}

Check certificate_check(const Url& url, std::chrono::milliseconds timeout,
                        const std::string& ca_file) {
  Check check{.name = "certificate"};
  const CertificateCheck found = check_certificate(url, timeout, ca_file);
  const std::string where = "certificate of " + url.authority() + ": ";
  if (!found.error.empty()) {
    check.result = CheckResult::fail;
    check.message = where + found.error;
    check.fix = "serve https on " + url.authority() + ", or give the webhook an http:// URL";
    return check;
  }
  const TimePoint now = std::chrono::time_point_cast<TimePoint::duration>(Clock::now());
  if (found.not_after) {
    check.expires = *found.not_after;
    check.days_left =
        static_cast<long>(std::chrono::floor<std::chrono::days>(*found.not_after - now).count());
  }
  const std::string trust_fix =
      ca_file.empty() ? "use a certificate from a CA that the portal's host trusts (a public CA), "
                        "or add your CA to that host's trust store"
                      : "use a certificate signed by a CA in --cacert";
  if (!found.trusted) {
    check.result = CheckResult::fail;
    check.message = where + "not trusted (" + found.untrusted_reason + ")";
    check.fix = trust_fix + "; the portal refuses a certificate it cannot verify";
    return check;
  }
  if (!found.valid_for_host) {
    check.result = CheckResult::fail;
    check.message = where + "not valid for " + url.host;
    check.fix = "use a certificate that names " + url.host + " (subjectAltName)";
    return check;
  }
  const std::string expiry = check.expires ? "expires " + format_rfc3339(*check.expires) + " (in " +
                                                 std::to_string(*check.days_left) + " days)"
                                           : "expiry unknown";
  check.message = where + "valid for " + url.host + ", " + expiry;
  if (check.days_left && *check.days_left < expiry_warning_days) {
    check.result = CheckResult::warn;
    check.fix =
        "renew the certificate: under " + std::to_string(expiry_warning_days) + " days are left";
  }
  return check;
}

// The time an answer took, against the webhook's timeout: over half of it is a warning, as an
// endpoint under load answers slower than it does to one probe.
void judge_time(Check& check, std::chrono::milliseconds timeout, const std::string& timeout_text) {
  if (!check.ms || check.result == CheckResult::fail) return;
  if (*check.ms * 2 > static_cast<double>(timeout.count())) {
    check.result = CheckResult::warn;
    check.fix = "answer sooner: it took over half of --timeout " + timeout_text +
                "; answer at once and do the work afterwards (tykhook listen --forward-to queues "
                "it)";
  }
}

// The first of the "errors" in a tykhook answer's JSON body, when it has one.
std::optional<std::string> first_error(const std::string& body) {
  const auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (!parsed.is_object() || !parsed.contains("errors") || !parsed["errors"].is_array() ||
      parsed["errors"].empty() || !parsed["errors"][0].is_string()) {
    return std::nullopt;
  }
  return parsed["errors"][0].get<std::string>();
}

// What to change for a tykhook receiver's verdict on the probe's delivery.
std::string verdict_fix(const std::string& verdict) {
  if (verdict == "signature_mismatch") {
    return "the signature does not match: the receiver's secret is not the one given here; give "
           "the receiver the portal's Webhooks.Secret (PORTAL_WEBHOOKS_SECRET), and probe with "
           "that secret";
  }
  if (verdict == "missing_signature" || verdict == "malformed_signature") {
    return "the signature header did not reach the receiver whole; check the proxies between "
           "the portal and the receiver";
  }
  if (verdict == "rejected") {
    return "the receiver requires a header (--require-header); add it to the webhook's custom "
           "headers, and give it here with --header";
  }
  if (verdict == "stale") {
    return "the receiver's clock and this one differ by more than its --tolerance; synchronise "
           "the clocks (NTP)";
  }
  if (verdict == "too_large") return "raise the receiver's --max-body";
  if (verdict == "error") return "the receiver cannot keep deliveries; see its log";
  return "the receiver refuses the documented sample; see its errors, and its --schemas or "
         "--allow-unknown-events";
}

// What to change for an answer that is not 2xx, from an endpoint that gave no verdict.
std::string status_fix(int status, const std::string& method) {
  if (status == 404) return "the path is not the endpoint's; check the webhook's target URL";
  if (status == 405) {
    return "the endpoint does not take " + method + "; set the webhook's method to one it takes";
  }
  if (status == 401 || status == 403) {
    return "the endpoint refused the delivery; check the webhook's custom headers (--header)";
  }
  if (status >= 500) return "the endpoint failed; see its log";
  return "make the endpoint answer the portal's deliveries with 2xx";
}

}  // namespace

int run_probe(const ProbeOptions& options) {
  signal(SIGPIPE, SIG_IGN);
  const auto usage = [](const std::string& message) {
    std::cerr << "tykhook probe: " << message << '\n';
    return exit_usage;
  };
  const auto url = parse_url(options.url, "--header");
  if (!url) return usage("URL " + url.error);
  std::string error;
  const auto extra_headers = extra_headers_of(options.headers, error);
  if (!extra_headers) return usage(error);
  if (const auto wrong = method_error(options.method)) return usage(*wrong);
  const Event event = *parse_event(options.event);  // event_check() let only names through
  const TimePoint now = std::chrono::time_point_cast<std::chrono::nanoseconds>(Clock::now());
  const auto body = fresh_sample(event, now);
  if (!body) {
    return usage("--event " + std::string(to_string(event)) +
                 ": no sample body, as the portal documents no payload for it; choose another "
                 "event");
  }
  auto loaded = load_secrets(options.secrets);
  for (const auto& error : loaded.errors) std::cerr << "tykhook probe: " << error << '\n';
  if (loaded.secrets.empty() || !loaded.errors.empty()) return exit_usage;
  if (!options.ca_file.empty() && url->scheme != "https") {
    return usage("--cacert is for https URLs; " + options.url.substr(0, 200) + " is http");
  }
  const auto timeout = *parse_duration(options.timeout);
  const auto client = make_client(*url, timeout);
  if (!options.ca_file.empty()) client->set_ca_cert_path(options.ca_file);

  std::vector<Check> checks;
  if (url->scheme == "https") checks.push_back(certificate_check(*url, timeout, options.ca_file));

  const auto timed = [](auto&& request, std::optional<double>& ms) {
    const auto started = std::chrono::steady_clock::now();
    auto result = request();
    ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
             .count();
    return result;
  };

  // The portal's Test Connection: a HEAD without the custom headers, which must be answered 200.
  Check head{.name = "test_connection"};
  const httplib::Result head_result = timed([&] { return client->Head(url->target); }, head.ms);
  const std::string head_what = "test connection: HEAD " + url->target;
  if (!head_result) {
    head.result = CheckResult::fail;
    head.message =
        head_what + ": " + failure_message(head_result.error(), *url, timeout, options.timeout);
    head.fix = "make " + url->authority() +
               " reachable from the portal, and answer a HEAD within the webhook's timeout";
  } else {
    head.status = head_result->status;
    head.message = head_what + " answered " + std::to_string(head_result->status) + " in " +
                   milliseconds_text(*head.ms);
    if (head_result->status != 200) {
      head.result = CheckResult::fail;
      head.fix =
          "answer a HEAD without custom headers with 200: the portal's Test Connection "
          "sends one, and reports a failure otherwise";
    }
    judge_time(head, timeout, options.timeout);
  }
  checks.push_back(head);

  // A delivery as the portal sends it: the configured method and headers, signed.
  Check delivery{.name = "delivery"};
  httplib::Request request;
  request.method = options.method;
  request.path = url->target;
  request.body = *body;
  request.headers = *extra_headers;
  if (!request.has_header("Content-Type")) request.set_header("Content-Type", "application/json");
  request.set_header("User-Agent", "tykhook-probe/" TYKHOOK_VERSION);
  request.set_header(std::string(signature_header),
                     sign(std::string(loaded.secrets.front().bytes()), *body));
  const httplib::Result result = timed([&] { return client->send(request); }, delivery.ms);
  const std::string delivery_what =
      "delivery: " + options.method + " " + url->target + " " + std::string(to_string(event));
  if (!result) {
    delivery.result = CheckResult::fail;
    delivery.message =
        delivery_what + ": " + failure_message(result.error(), *url, timeout, options.timeout);
    delivery.fix = "answer each delivery within the webhook's timeout (--timeout " +
                   options.timeout + "); the portal does not send it again";
  } else {
    delivery.status = result->status;
    if (result->has_header("X-Tykhook-Verdict")) {
      delivery.verdict = loggable(result->get_header_value("X-Tykhook-Verdict"), 64);
    }
    delivery.message = delivery_what + " answered " + std::to_string(result->status) +
                       (delivery.verdict ? ", verdict " + *delivery.verdict : "") + " in " +
                       milliseconds_text(*delivery.ms);
    const bool answered_2xx = result->status >= 200 && result->status < 300;
    if (delivery.verdict && *delivery.verdict != "ok" && *delivery.verdict != "duplicate") {
      delivery.result = CheckResult::fail;
      delivery.fix = verdict_fix(*delivery.verdict);
      if (const auto error = first_error(result->body)) {
        delivery.message += " (" + loggable(*error, 300, true) + ")";
      }
    } else if (!answered_2xx) {
      delivery.result = CheckResult::fail;
      delivery.fix = status_fix(result->status, options.method);
    }
    judge_time(delivery, timeout, options.timeout);
  }
  checks.push_back(delivery);

  std::size_t failed = 0;
  for (const auto& check : checks) {
    print_check(check, options.format);
    if (check.result == CheckResult::fail) ++failed;
  }
  std::cout.flush();
  std::cerr << "tykhook probe: " << checks.size() - failed << " of " << checks.size()
            << " checks pass" << (failed == 0 ? "" : "; see the fix under each failed one") << '\n';
  return failed == 0 ? exit_ok : exit_rejected;
}

}  // namespace tykhook::cli
