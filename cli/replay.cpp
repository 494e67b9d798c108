// `tykhook replay`: sends captured deliveries to a receiver again (DESIGN.md, "CLI contract").
// The portal never sends a delivery twice: a capture is the only way to have one handled again.
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

#include "capture_files.h"
#include "commands.h"
#include "http_client.h"
#include "output.h"
#include "tykhook/capture.h"
#include "tykhook/envelope.h"
#include "tykhook/signature.h"
#include "tykhook/timestamp.h"
#include "url.h"

namespace tykhook::cli {
namespace {

/// What became of one capture: the receiver's answer, or why there is none.
struct Outcome {
  std::string input;   ///< "PATH" or "PATH#N"
  std::string method;  ///< empty when nothing was sent
  int status = 0;      ///< 0: no answer
  std::string reason;
  std::optional<std::string> verdict;  ///< X-Tykhook-Verdict, when the receiver is tykhook
  std::optional<double> ms;            ///< from sending to the whole answer, when sent
  std::string error;                   ///< why there is no answer; empty with one

  bool ok() const { return status >= 200 && status < 300; }
};

/// How a capture goes out again: the same for each one.
struct Replay {
  const ReplayOptions& options;
  std::string path;  ///< the --to URL's path: the delivery's own target is not used
  httplib::Headers extra_headers;
  std::string secret;  ///< with --resign or --fresh-timestamp only
};

Parsed<httplib::Request> failure(std::string message) {
  return Parsed<httplib::Request>::failure(std::move(message));
}

// The request that sends `capture` again: its method and body, its Content-Type and its own
// signature headers (names in their own case), or a new signature with --resign; then the
// --header options.
Parsed<httplib::Request> request_of(const Capture& capture, const Replay& replay) {
  if (!capture.request) return failure(capture.request.error);
  const Request& captured = *capture.request;
  httplib::Request request;
  request.method = captured.method;
  request.path = replay.path;
  request.body = captured.body;
  request.headers = replay.extra_headers;
  if (replay.options.fresh_timestamp) {
    const TimePoint now = std::chrono::time_point_cast<std::chrono::nanoseconds>(Clock::now());
    auto stamped = with_timestamp(captured.body, now);
    if (!stamped) {
      return failure(capture.input + ": --fresh-timestamp: " + stamped.error +
                     "; or replay it without --fresh-timestamp, which sends the body as it is");
    }
    request.body = std::move(*stamped);
  }
  if (replay.options.resign || replay.options.fresh_timestamp) {
    request.headers.emplace(std::string(signature_header), sign(replay.secret, request.body));
  } else {
    bool signed_ = false;
    for (const Header& header : captured.headers) {
      if (!header_name_equals(header.name, signature_header)) continue;
      request.headers.emplace(header.name, header.value);
      signed_ = true;
    }
    if (!signed_) {
      return failure(capture.input + ": no X-Signature-SHA256 header of its own to send" +
                     (captured.headers.empty() ? " (a bare body has none)" : "") +
                     "; add --resign to sign it with the configured secret");
    }
  }
  if (!request.has_header("Content-Type")) {
    const auto types = captured.header_values("Content-Type");
    request.set_header("Content-Type",
                       types.empty() ? std::string("application/json") : std::string(types[0]));
  }
  request.set_header("User-Agent", "tykhook-replay/" TYKHOOK_VERSION);
  return {std::move(request), {}};
}

std::string milliseconds_text(double ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2fms", ms);
  return text;
}

// One line on standard output: in text, for a capture that was answered (the others are said
// on standard error); in JSON, for every capture, so that a script sees each one.
void print_outcome(const Outcome& outcome, const std::string& format) {
  if (format == "json") {
    nlohmann::ordered_json line;
    line["input"] = outcome.input;
    line["ok"] = outcome.ok();
    line["method"] =
        outcome.method.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(outcome.method);
    line["status"] =
        outcome.status == 0 ? nlohmann::ordered_json() : nlohmann::ordered_json(outcome.status);
    line["verdict"] = outcome.verdict ? nlohmann::ordered_json(*outcome.verdict) : nullptr;
    line["ms"] = outcome.ms ? nlohmann::ordered_json(std::round(*outcome.ms * 100) / 100) : nullptr;
    line["error"] =
        outcome.error.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(outcome.error);
    std::cout << line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
              << '\n';
    return;
  }
  if (outcome.status == 0) return;
  // The answer's parts come from the receiver: shown as loggable text, a line it cannot break.
  std::cout << outcome.input << ": " << loggable(outcome.method, 16) << " -> HTTP "
            << outcome.status;
  if (!outcome.reason.empty()) std::cout << ' ' << loggable(outcome.reason, 64, true);
  if (outcome.verdict) std::cout << ", verdict " << loggable(*outcome.verdict, 64);
  std::cout << ", " << milliseconds_text(outcome.ms.value_or(0)) << '\n';
}

// "a.json (HTTP 401, stale), b.http (no answer)": the captures that were not answered 2xx.
std::string failed_list(const std::vector<Outcome>& failed) {
  constexpr std::size_t named = 10;
  std::string text;
  for (std::size_t i = 0; i < failed.size() && i < named; ++i) {
    const Outcome& outcome = failed[i];
    text += (i == 0 ? "" : ", ") + outcome.input + " (";
    if (outcome.status == 0) {
      text += outcome.method.empty() ? "not sent" : "no answer";
    } else {
      text += "HTTP " + std::to_string(outcome.status);
      if (outcome.verdict) text += ", " + loggable(*outcome.verdict, 64);
    }
    text += ")";
  }
  if (failed.size() > named) text += ", and " + std::to_string(failed.size() - named) + " more";
  return text;
}

}  // namespace

int run_replay(const ReplayOptions& options) {
  // A receiver that answers early and closes (413) would otherwise kill us mid-upload; the
  // failed write is reported instead.
  signal(SIGPIPE, SIG_IGN);
  const auto usage = [](const std::string& message) {
    std::cerr << "tykhook replay: " << message << '\n';
    return exit_usage;
  };
  const auto url = parse_url(options.to, "--header");
  if (!url) return usage("--to " + url.error);
  std::string error;
  auto extra_headers = extra_headers_of(options.headers, error);
  if (!extra_headers) return usage(error);
  Replay replay{.options = options,
                .path = url->target,
                .extra_headers = std::move(*extra_headers),
                .secret = {}};
  if (options.resign || options.fresh_timestamp) {
    auto loaded = load_secrets(options.secrets);
    const std::string why =
        std::string(options.fresh_timestamp ? "--fresh-timestamp" : "--resign") +
        " signs with the configured secret: ";
    for (const auto& error : loaded.errors) std::cerr << "tykhook replay: " << why << error << '\n';
    if (loaded.secrets.empty() || !loaded.errors.empty()) return exit_usage;
    replay.secret = std::string(loaded.secrets.front().bytes());
  }
  const auto timeout = *parse_duration(options.timeout);
  const auto client = make_client(*url, timeout);

  std::size_t total = 0;
  std::vector<Outcome> failed;
  bool unsent = false;  // an input that could not be read or sent, or got no answer: exit 2
  const auto finish = [&](Outcome outcome) {
    ++total;
    if (!outcome.error.empty()) {
      std::cerr << "tykhook replay: " << outcome.error << '\n';
      unsent = true;
    }
    print_outcome(outcome, options.format);
    if (!outcome.ok()) failed.push_back(std::move(outcome));
  };
  const auto unreadable = [&](const std::string& input, const std::string& error) {
    finish({.input = input, .error = error});
  };
  for (const auto& file : files_of(options.captures, unreadable)) {
    std::string bytes;
    try {
      bytes = read_input(file);
    } catch (const Error& error) {
      unreadable(file, error.what());
      continue;
    }
    for (const auto& capture : read_captures(bytes, file)) {
      auto request = request_of(capture, replay);
      if (!request) {
        finish({.input = capture.input, .error = request.error});
        continue;
      }
      Outcome outcome{.input = capture.input, .method = request->method};
      const auto started = std::chrono::steady_clock::now();
      const httplib::Result result = client->send(*request);
      outcome.ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
              .count();
      if (!result) {
        outcome.error = capture.input + ": " + options.to + ": " +
                        failure_message(result.error(), *url, timeout, options.timeout);
      } else {
        outcome.status = result->status;
        outcome.reason = result->reason;
        if (result->has_header("X-Tykhook-Verdict")) {
          outcome.verdict = result->get_header_value("X-Tykhook-Verdict");
        }
      }
      finish(std::move(outcome));
    }
  }
  std::cout.flush();
  if (total > 1 || !failed.empty()) {
    std::cerr << "tykhook replay: " << total - failed.size() << " of " << total << " answered 2xx";
    if (!failed.empty()) std::cerr << "; not: " << failed_list(failed);
    std::cerr << '\n';
  }
  return unsent ? exit_usage : failed.empty() ? exit_ok : exit_rejected;
}

}  // namespace tykhook::cli
