#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tykhook/capture.h"
#include "tykhook/dispatcher.h"
#include "tykhook/request.h"
#include "tykhook/timestamp.h"
#include "tykhook/verifier.h"
#include "tykhook/worker.h"

namespace tykhook {

/// What the receiver answers a delivery with besides the verifier's verdicts, each spelled as
/// X-Tykhook-Verdict (and "verdict" in the response body) spells it.
enum class ReceiverOutcome {
  /// The delivery lacks the required header: it is refused before its body is read or verified.
  rejected,
  /// The receiver could not keep an authentic delivery (the store or the capture directory
  /// failed): 503, and nothing acknowledged.
  error,
};

/// Returns the outcome's external name ("rejected").
[[nodiscard]] std::string_view to_string(ReceiverOutcome outcome);

/// One request as the receiver answered it: what its log line shows. It never holds a body, a
/// signature, a header value or a secret.
struct RequestRecord {
  TimePoint time{};    ///< when the request's first byte was read
  std::string client;  ///< the peer, "IP:PORT" ("[IPv6]:PORT")
  std::string method;  ///< the request method, e.g. "POST"
  std::string path;    ///< the request target without its query
  /// A delivery's event: the verdict's event_name (attacker-controlled for unknown events).
  std::optional<std::string> event;
  /// A delivery's X-Tykhook-Verdict: one of DESIGN.md's verdicts, "rejected" or "error";
  /// empty for requests that are not deliveries (HEAD, GET).
  std::string verdict;
  int status = 0;                         ///< the HTTP status of the response
  std::chrono::microseconds duration{0};  ///< from the first byte to the response written
  std::string error;  ///< why the receiver failed (handler, store, capture); empty otherwise
  /// An authentic delivery's secret: its index among the secrets in force when it was verified.
  std::optional<std::size_t> secret_index;
  /// That secret's fingerprint (see tykhook::fingerprint); empty without secret_index.
  std::string secret_fingerprint;
};

/// The inspector (`listen --ui`): a page at /ui/ that shows the recent deliveries, and the JSON
/// endpoints under /ui/api/ that it reads (DESIGN.md, "The inspector"). It holds users' personal
/// data and can send deliveries again, so it is off unless enabled, and every request needs the
/// token.
struct InspectorOptions {
  bool enabled = false;  ///< off by default: no request under /ui/ is the inspector's
  /// The access token, given as `Authorization: Bearer TOKEN`, as the cookie the page sets, or
  /// as `?token=` on a page load; at least 16 characters of URL-safe text when enabled.
  std::string token;
  std::size_t keep = 1000;  ///< the most recent deliveries kept in memory, at most
  /// Bytes of bodies and headers kept in memory, at most: older deliveries go first.
  std::size_t max_bytes = 64 * 1024 * 1024;
};

/// How the receiver checks, keeps and answers deliveries, and the limits it puts on clients.
struct ReceiverOptions {
  /// Secrets, tolerance, body limit (also the HTTP body limit), schemas and store.
  VerifierOptions verifier;
  /// Where every authentic delivery that is not a duplicate is written before it is answered;
  /// empty for none. Created (mode 0700) when missing.
  std::filesystem::path capture_dir;
  /// Answer malformed_json, invalid_envelope, unknown_event and schema_violation with 400
  /// instead of 202 (they are kept either way).
  bool reject_invalid = false;
  /// A header that every delivery must carry with exactly this value (compared in constant
  /// time); HEAD and GET requests are exempt. A delivery without it: 401, verdict "rejected".
  std::optional<Header> required_header;
  /// Worker threads: requests served at once. When nothing on a delivery's way can wait (a
  /// store whose never_waits() is true, or none; no capture directory; a dispatcher without
  /// handlers), the event loop's thread serves every delivery that has arrived whole itself,
  /// and the workers serve the rest (HEAD, GET, bodies in parts, slow clients). With a durable
  /// store, a delivery holds its worker until its group commit ends, so the workers bound how
  /// many deliveries share one commit (bench/README.md, "The delivery queue on SQLite").
  std::size_t threads = 32;
  /// Open connections at most, idle ones included (they hold no thread). When full, the
  /// kept-alive connection idle the longest is closed; failing that, new ones wait.
  std::size_t max_connections = 1024;
  /// A request's line, headers and body must all arrive within this time of its first byte.
  std::chrono::milliseconds read_timeout{10'000};
  /// The longest a write of the response may wait for the client to read.
  std::chrono::milliseconds write_timeout{5'000};
  /// How long an idle connection is kept open for its next request (a new one: read_timeout).
  std::chrono::milliseconds keep_alive_timeout{5'000};
  std::size_t keep_alive_max_requests = 100;  ///< requests served on one connection at most
  std::size_t max_header_bytes = 16 * 1024;   ///< request line and headers together, at most
  std::size_t max_headers = 64;               ///< header lines per request, at most

  /// Hands every ok delivery on through the store's queue (DESIGN.md, "Handing deliveries
  /// on") when `delivery.target` is set, or when the Receiver is given handlers (they are the
  /// target then). The delivery is queued in the same step as its idempotency claim, then
  /// answered 200: the answer never waits for the target. `delivery.store` is not read: the
  /// queue is `verifier.store`'s (a `memory:` store when there is none). The receiver runs the
  /// worker while it serves.
  WorkerOptions delivery;

  /// The inspector page; with it, every request whose path is /ui or under /ui/ is its own,
  /// not a delivery.
  InspectorOptions inspector;

  /// Called once per request after its response was written, from several threads at once,
  /// the event loop's among them (a logger, for example): it must not wait long, or it holds
  /// up other connections. What it throws is ignored.
  std::function<void(const RequestRecord&)> on_request;
};

/// An embeddable HTTP/1.1 receiver of the portal's webhooks (DESIGN.md, "`tykhook listen`"):
/// HEAD 200 on any path, GET /healthz and /metrics, and POST, PUT or PATCH deliveries answered
/// by their verdict. An authentic delivery is written to the capture directory before the
/// response is sent; an ok one is queued for the target (the dispatcher's handlers, or
/// `delivery.target`), which the receiver's worker then tries until it takes it. Thread-safe.
class Receiver {
 public:
  /// Throws std::invalid_argument for misuse (see Verifier; a zero limit, thread count or
  /// timeout; a required header that is not a token or has an empty value; both handlers and a
  /// delivery target), and tykhook::Error when the capture directory cannot be created or
  /// opened, or a target is given with a store that holds no queue.
  explicit Receiver(ReceiverOptions options, Dispatcher dispatcher = {});
  /// Stops the receiver and waits for serve() to return.
  ~Receiver();
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  /// Binds `host` and `port` (0 picks a free port) and returns the port bound. Throws
  /// tykhook::Error naming the address when it cannot bind, std::invalid_argument when bound.
  int bind(std::string_view host, int port);
  /// Serves on the bound port until stop(), then finishes the requests in flight and returns.
  /// Throws std::invalid_argument when bind() was not called or serve() already ran.
  void serve();
  /// bind(host, port), then serve().
  void listen(std::string_view host, int port);
  /// Stops accepting connections; requests in flight are finished and serve() returns. Safe
  /// from any thread (not from a signal handler), before or during serve(), and more than once.
  void stop();

  /// Replaces the secrets that deliveries are verified with (rotation without a restart): a
  /// delivery whose verification starts after this returns uses `secrets`, one already under
  /// way finishes with the old ones; no connection is dropped. Safe from any thread. Throws
  /// std::invalid_argument when `secrets` is empty (the old ones stay in force).
  void replace_secrets(std::vector<Secret> secrets);

  /// The port bound, or 0 before bind().
  [[nodiscard]] int port() const;
  /// The metrics in the Prometheus text format, as GET /metrics serves them.
  [[nodiscard]] std::string metrics() const;
  /// What was recovered from the capture directory when the receiver was made (none without
  /// one).
  [[nodiscard]] CaptureRecovery capture_recovery() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tykhook
