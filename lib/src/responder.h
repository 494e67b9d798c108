#pragma once

// Private to the library: the receiver's answers (DESIGN.md, "`tykhook listen`"). A request's
// head, body and arrival time go in; the response and what its log line says come out. Nothing
// here reads a socket, so a test can call it directly.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "inspector_log.h"
#include "keeper.h"
#include "receiver_metrics.h"
#include "request_head.h"
#include "tykhook/receiver.h"
#include "tykhook/verifier.h"

namespace tykhook::detail {

/// A response before the HTTP engine frames it.
struct Response {
  int status = 200;
  std::vector<Header> headers;  ///< besides Content-Type and Content-Length
  std::string content_type;     ///< empty when there is no body
  std::string body;
};

/// The answer to one request: the response, and what its log line and the metrics say of it.
struct Answer {
  Response response;
  /// The request leaves input unread (a refused body, or a body where none is read): the
  /// connection closes after the response.
  bool close = false;
  /// A delivery's status, verdict, event and error (why the receiver failed); the connection
  /// that read the request adds the rest.
  RequestRecord record;
  std::optional<DeliveryOutcome> outcome;  ///< a delivery's, as record.verdict spells it
  std::optional<Event> event;              ///< a delivery's known event, as record.event names it
  std::vector<std::string> errors;         ///< a delivery's verdict errors, as its body lists them
  /// A delivery's request and what the verifier found, for the inspector (only when it is on).
  std::shared_ptr<DeliveryDetails> details;
};

/// How a delivery's body is framed, once its head passed the checks before the body.
struct BodyFraming {
  bool chunked = false;
  std::optional<std::size_t> content_length;  ///< none, and not chunked: there is no body
};

/// What the checks before the body conclude: a refusal, or how to read the body.
struct HeadCheck {
  std::optional<Answer> refusal;
  BodyFraming framing;
};

/// The answer to a delivery with `outcome`: X-Tykhook-Verdict, and a JSON body with the
/// verdict, the event and the errors when there are any.
[[nodiscard]] Answer delivery_answer(int status, const DeliveryOutcome& outcome,
                                     std::optional<std::string> event,
                                     std::optional<Event> known_event,
                                     std::vector<std::string> errors);
/// The answer to a delivery refused before its body was read: the connection closes after it.
[[nodiscard]] Answer refusal(int status, const DeliveryOutcome& outcome, std::string error);
/// The answer to a request that is not a delivery and fails: a JSON body with the error.
[[nodiscard]] Answer error_answer(int status, std::string error);

class Inspector;

/// Answers the receiver's requests: HEAD and GET by their path, the inspector's by its own,
/// deliveries (POST, PUT, PATCH) by their verdict, after keeping every authentic one and, when
/// `options.delivery.target` is set, queueing the ok ones in the store with their claim.
/// Thread-safe.
class Responder {
 public:
  /// Throws std::invalid_argument for misuse of `options` (see Receiver), and tykhook::Error
  /// when the capture directory cannot be created or opened. `worker` returns the worker that
  /// hands queued deliveries on (with `options.delivery.target`); each delivery queued is
  /// handed to it (handoff.h).
  Responder(ReceiverOptions options, ReceiverMetrics& metrics,
            std::function<Worker*()> worker = {});
  ~Responder();

  /// The answer to the request `head` with `body`, arrived at `now`: check_head() and then
  /// answer_delivery() for a delivery. Throws only what the HTTP engine turns into a 500 (a
  /// failure of this process, not of the request).
  [[nodiscard]] Answer answer(const Head& head, std::string body, TimePoint now);
  /// The checks of a delivery before its body is read: the required header, the framing and
  /// the announced length.
  [[nodiscard]] HeadCheck check_head(const Head& head) const;
  /// The answer to a delivery whose head passed check_head(), by its verdict, once it is kept
  /// (and handled when ok).
  [[nodiscard]] Answer answer_delivery(const Head& head, std::string body, TimePoint now);

  /// True when requests for `target` (a request target, query and all) are the inspector's.
  [[nodiscard]] bool inspects(std::string_view target) const;
  /// Keeps a delivery that was answered in the inspector (when it is on): its log record, its
  /// head when read, and `answer`'s errors and details.
  void inspect(const RequestRecord& record, const std::optional<Parsed<Head>>& head,
               std::vector<std::string> errors, std::shared_ptr<DeliveryDetails> details);
  /// The inspector, when it is on (to note the worker's attempts); nullptr otherwise.
  [[nodiscard]] Inspector* inspector() { return inspector_.get(); }

  /// Verifies the deliveries that start after it returns with `secrets` (see
  /// Receiver::replace_secrets); throws std::invalid_argument when `secrets` is empty.
  void replace_secrets(std::vector<Secret> secrets);

  /// True when nothing on a delivery's way can wait (a store that never waits, or none; no
  /// capture directory), so the event loop may answer deliveries itself.
  [[nodiscard]] bool never_waits() const;
  /// The options given; `verifier.secrets` are those given, even after replace_secrets().
  [[nodiscard]] const ReceiverOptions& options() const { return options_; }
  [[nodiscard]] CaptureRecovery capture_recovery() const;

 private:
  using Sha256 = std::array<unsigned char, 32>;

  // The verifier in force, with the fingerprints and the metrics' counters of its secrets by
  // index. Replaced whole, so that a delivery sees one set of secrets from start to end.
  struct Checking {
    Verifier verifier;
    std::vector<std::string> fingerprints;
    std::vector<std::atomic<std::uint64_t>*> counts;
  };
  std::shared_ptr<const Checking> make_checking(std::vector<Secret> secrets);

  Answer answer_other(const Head& head) const;
  VerifierOptions with_queue(VerifierOptions verifier) const;

  ReceiverOptions options_;
  std::function<Worker*()> worker_;
  ReceiverMetrics& metrics_;
  // Loaded once per delivery: the verifier is swapped under deliveries in flight on other
  // threads, each keeping the one it loaded alive until it is answered.
  std::atomic<std::shared_ptr<const Checking>> checking_;
  Keeper keeper_;  // after options_, which it reads
  std::unique_ptr<Inspector> inspector_;
  std::optional<Sha256> required_digest_;
};

}  // namespace tykhook::detail
