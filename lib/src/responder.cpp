#include "responder.h"

#include <httplib.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

#include "handoff.h"
#include "http_syntax.h"
#include "inspector.h"
#include "json_text.h"
#include "sha256.h"
#include "tykhook/store.h"
#include "tykhook/worker.h"

namespace tykhook {

std::string_view to_string(ReceiverOutcome outcome) {
  switch (outcome) {
    case ReceiverOutcome::rejected:
      return "rejected";
    case ReceiverOutcome::error:
      return "error";
  }
  return "";  // unreachable for a valid enumerator; -Wall flags a missing case above
}

namespace detail {
namespace {

constexpr std::string_view verdict_header = "X-Tykhook-Verdict";
// A request target's path, decoded as the engine routes on it, without the query.
std::string path_of(std::string_view target) {
  return httplib::detail::decode_url(std::string(target.substr(0, target.find('?'))), false);
}

// Whether a request that is not a delivery carries a body: no one reads it, so the connection
// ends after the answer.
bool carries_body(const Head& head) {
  return !head.values("Transfer-Encoding").empty() ||
         std::any_of(head.headers.begin(), head.headers.end(), [](const Header& header) {
           return header_name_equals(header.name, "Content-Length") && header.value != "0";
         });
}

// Required header values are compared as digests of equal length (see check_head).
Digest digest_of_header_value(std::string_view value) {
  return sha256(value, "required header: SHA-256 failed in the crypto library");
}

// The receiver's options, once checked. Message is not kept: nothing of the receiver's reads it
// (a queued delivery keeps its exact body, and handlers read Message from that).
ReceiverOptions checked(ReceiverOptions options) {
  const auto positive = [](auto value, std::string_view name) {
    if (value <= decltype(value){}) {
      throw std::invalid_argument("tykhook::Receiver: " + std::string(name) +
                                  " is 0; give a positive value");
    }
  };
  positive(options.threads, "threads");
  positive(options.max_connections, "max_connections");
  positive(options.read_timeout.count(), "read_timeout");
  positive(options.write_timeout.count(), "write_timeout");
  positive(options.keep_alive_timeout.count(), "keep_alive_timeout");
  positive(options.keep_alive_max_requests, "keep_alive_max_requests");
  positive(options.max_headers, "max_headers");
  if (options.max_header_bytes < 256) {
    throw std::invalid_argument(
        "tykhook::Receiver: max_header_bytes is under 256; allow at least 256 bytes");
  }
  if (options.required_header) {
    if (!is_token(options.required_header->name)) {
      throw std::invalid_argument("tykhook::Receiver: required header name " +
                                  quote(options.required_header->name) +
                                  " is not a token; give a name like X-Portal-Token");
    }
    if (trim(options.required_header->value).empty()) {
      throw std::invalid_argument(
          "tykhook::Receiver: the required header's value is empty; give a value");
    }
    // Headers arrive trimmed of surrounding white space; so is the value they are held to.
    options.required_header->value = std::string(trim(options.required_header->value));
  }
  options.verifier.keep_message = false;
  return options;
}

Answer json_answer(int status, const nlohmann::ordered_json& body) {
  Answer answer;
  answer.response.status = status;
  answer.response.content_type = "application/json";
  answer.response.body = body.dump();
  return answer;
}

}  // namespace

// ---- answers ------------------------------------------------------------------------------------

Answer delivery_answer(int status, const DeliveryOutcome& outcome, std::optional<std::string> event,
                       std::optional<Event> known_event, std::vector<std::string> errors) {
  const std::string_view verdict = to_string(outcome);
  Answer answer;
  answer.response.status = status;
  answer.response.headers.push_back({std::string(verdict_header), std::string(verdict)});
  answer.response.content_type = "application/json";
  if (errors.empty() && plain_json_text(verdict) && (!event || plain_json_text(*event))) {
    // The answer to most deliveries: the same bytes as below, without building a document.
    std::string body = R"({"verdict":")";
    body.append(verdict).append(event ? R"(","event":")" : R"(","event":null})");
    if (event) body.append(*event).append(R"("})");
    answer.response.body = std::move(body);
  } else {
    nlohmann::ordered_json body;
    body["verdict"] = verdict;
    body["event"] = event ? nlohmann::ordered_json(*event) : nullptr;
    if (!errors.empty()) body["errors"] = errors;
    answer.response.body =
        body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  }
  answer.record.status = status;
  answer.record.verdict = std::string(verdict);
  answer.record.event = std::move(event);
  answer.outcome = outcome;
  answer.event = known_event;
  answer.errors = std::move(errors);
  return answer;
}

Answer refusal(int status, const DeliveryOutcome& outcome, std::string error) {
  Answer answer = delivery_answer(status, outcome, std::nullopt, std::nullopt, {std::move(error)});
  // The body is left unread, so the connection cannot carry another request.
  answer.close = true;
  return answer;
}

Answer error_answer(int status, std::string error) {
  return json_answer(status, {{"error", std::move(error)}});
}

// ---- the responder ------------------------------------------------------------------------------

Responder::Responder(ReceiverOptions options, ReceiverMetrics& metrics,
                     std::function<Worker*()> worker)
    : options_(checked(std::move(options))),
      worker_(std::move(worker)),
      metrics_(metrics),
      checking_(make_checking(options_.verifier.secrets)),
      keeper_(options_) {
  if (options_.required_header)
    required_digest_ = digest_of_header_value(options_.required_header->value);
  if (options_.inspector.enabled) {
    inspector_ = std::make_unique<Inspector>(
        options_.inspector,
        Inspector::Receiving{
            .queue = options_.delivery.target ? options_.verifier.store : nullptr,
            .secrets = [this] { return checking_.load()->verifier.options().secrets; },
            .queued =
                [this] {
                  if (Worker* worker = worker_ ? worker_() : nullptr) worker->wake();
                }});
  }
}

Responder::~Responder() = default;

std::shared_ptr<const Responder::Checking> Responder::make_checking(std::vector<Secret> secrets) {
  VerifierOptions verifier = with_queue(options_.verifier);
  verifier.secrets = std::move(secrets);
  auto checking = std::make_shared<Checking>(Checking{Verifier(std::move(verifier)), {}, {}});
  for (const Secret& secret : checking->verifier.options().secrets) {
    checking->fingerprints.push_back(fingerprint(secret));
    checking->counts.push_back(&metrics_.secret_counter(checking->fingerprints.back()));
  }
  return checking;
}

void Responder::replace_secrets(std::vector<Secret> secrets) {
  checking_.store(make_checking(std::move(secrets)), std::memory_order_release);
}

bool Responder::never_waits() const {
  return !keeper_.captures() &&
         (!options_.verifier.store || options_.verifier.store->never_waits());
}

CaptureRecovery Responder::capture_recovery() const { return keeper_.recovery(); }

Answer Responder::answer(const Head& head, std::string body, TimePoint now) {
  if (head.method != "HEAD" && inspects(head.target)) {
    Answer answer = inspector_->answer(head, now);
    answer.close = carries_body(head);
    return answer;
  }
  if (!is_delivery_method(head.method)) return answer_other(head);
  HeadCheck check = check_head(head);
  if (check.refusal) return std::move(*check.refusal);
  return answer_delivery(head, std::move(body), now);
}

Answer Responder::answer_other(const Head& head) const {
  // The engine routes on the path as it decodes it; so does this.
  const std::string path = path_of(head.target);
  Answer answer;
  if (head.method == "HEAD") {
    // The portal's Test Connection: a HEAD on the webhook's URL, without its custom headers.
  } else if (head.method == "GET" && path == "/healthz") {
    answer = json_answer(200, {{"status", "ok"}});
  } else if (head.method == "GET" && path == "/metrics") {
    answer.response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    answer.response.body = metrics_.render();
  } else if (head.method == "GET") {
    answer = error_answer(404, "not found; deliveries are POST, PUT or PATCH on any path");
  } else {
    answer = error_answer(405, head.method + " is not served; deliveries are POST, PUT or PATCH");
    answer.response.headers.push_back({"Allow", "GET, HEAD, POST, PUT, PATCH"});
  }
  answer.close = carries_body(head);
  return answer;
}

HeadCheck Responder::check_head(const Head& head) const {
  HeadCheck check;
  const auto refuse = [&](int status, DeliveryOutcome outcome, std::string error) {
    check.refusal = refusal(status, outcome, std::move(error));
    return check;
  };
  if (options_.required_header) {
    const std::string& name = options_.required_header->name;
    const auto values = head.values(name);
    if (values.empty()) {
      return refuse(401, ReceiverOutcome::rejected,
                    name + ": required header missing; add it to the webhook's custom headers");
    }
    // Digests of equal length, compared in constant time: neither the value nor its length
    // can be learnt from the time a refusal takes.
    const Sha256 given = digest_of_header_value(values.front());
    if (values.size() > 1 || CRYPTO_memcmp(given.data(), required_digest_->data(), 32) != 0) {
      return refuse(
          401, ReceiverOutcome::rejected,
          name + ": does not have the required value; check the webhook's custom headers");
    }
  }

  const auto malformed = [&](std::string error) {
    return refuse(400, VerdictKind::malformed_request, std::move(error));
  };
  const auto encodings = head.values("Transfer-Encoding");
  const auto lengths = head.values("Content-Length");
  for (const auto coding : head.values("Content-Encoding")) {
    if (!header_name_equals(coding, "identity")) {
      return malformed("Content-Encoding: " + quote(coding) +
                       " is not accepted; the signature covers the body as sent, uncompressed");
    }
  }
  if (!encodings.empty() && !lengths.empty()) {
    return malformed(
        "Transfer-Encoding and Content-Length: both given (request smuggling); send one");
  }
  if (encodings.size() > 1 ||
      (encodings.size() == 1 && !header_name_equals(encodings.front(), "chunked"))) {
    return malformed("Transfer-Encoding: only \"chunked\" is accepted; send the body as is");
  }
  if (lengths.size() > 1) {
    return malformed("Content-Length: appears " + std::to_string(lengths.size()) +
                     " times; send it once");
  }
  check.framing.chunked = !encodings.empty();
  if (lengths.size() == 1) {
    const std::string_view text = lengths.front();
    // At most 18 digits: any such count fits, and none is near a body the limit lets through.
    const auto length = text.size() > 18 ? std::nullopt : parse_content_length(text);
    if (!length) return malformed("Content-Length: " + quote(text) + " is not a byte count");
    check.framing.content_length = *length;
    if (*check.framing.content_length > options_.verifier.max_body) {
      return refuse(413, VerdictKind::too_large,
                    "body: Content-Length " + std::string(text) + " is over the limit of " +
                        std::to_string(options_.verifier.max_body) +
                        " bytes; raise the body limit (--max-body) if this delivery is real");
    }
  }
  return check;
}

bool Responder::inspects(std::string_view target) const {
  return inspector_ && is_inspector_path(path_of(target));
}

void Responder::inspect(const RequestRecord& record, const std::optional<Parsed<Head>>& head,
                        std::vector<std::string> errors, std::shared_ptr<DeliveryDetails> details) {
  if (!inspector_) return;
  InspectedDelivery delivery{.record = record, .errors = std::move(errors)};
  if (details) {
    delivery.details = std::move(*details);
  } else if (head && *head) {
    // Refused before its body was read: its head is all there is.
    delivery.details.headers =
        keeper_
            .for_capture(Request{
                .method = (*head)->method, .target = (*head)->target, .headers = (*head)->headers})
            .headers;
  }
  inspector_->add(std::move(delivery));
}

Answer Responder::answer_delivery(const Head& head, std::string body, TimePoint now) {
  Request request{.method = head.method,
                  .target = head.target,
                  .headers = head.headers,
                  .body = std::move(body)};
  const auto unavailable = [&](std::string error, const Verdict* verdict) {
    Answer answer =
        delivery_answer(503, ReceiverOutcome::error, verdict ? verdict->event_name : std::nullopt,
                        verdict ? verdict->event : std::nullopt,
                        {"the receiver cannot keep this delivery now; send it again later"});
    answer.record.error = std::move(error);
    return answer;
  };

  // The claim (in verify) may lease the delivery for an attempt at once; it starts once the
  // delivery is kept, below.
  Worker* worker = options_.delivery.target && worker_ ? worker_() : nullptr;
  std::optional<Handoff> handoff;
  std::optional<Handoff::Scope> handing;
  if (worker != nullptr) handing.emplace(handoff.emplace(*worker));

  const std::shared_ptr<const Checking> checking = checking_.load(std::memory_order_acquire);
  Verdict verdict;
  try {
    verdict = checking->verifier.verify(request, now);
  } catch (const Error& failure) {
    // The store failed: the delivery must not be acknowledged, or it would be lost.
    metrics_.count_store_error();
    return unavailable(failure.what(), nullptr);
  }
  if (verdict.secret_index) {
    checking->counts[*verdict.secret_index]->fetch_add(1, std::memory_order_relaxed);
  }

  // Every delivery whose Timestamp was read is authentic (the body is read only then), stale and
  // duplicate ones included: they are the ones that tell of skewed clocks and queued deliveries.
  if (verdict.envelope) metrics_.count_timestamp(verdict.envelope->timestamp, now);
  const VerdictKind kind = verdict.kind;
  if (const auto failure = keeper_.keep(request, verdict, now)) {
    if (failure->where == KeepFailure::Where::store) {
      metrics_.count_store_error();
    } else {
      metrics_.count_capture_error();
    }
    return unavailable(failure->error, &verdict);
  }

  if (kind == VerdictKind::ok && handoff) handoff->hand_on();
  Answer answer = delivery_answer(http_status(kind, options_.reject_invalid), kind,
                                  verdict.event_name, verdict.event, std::move(verdict.errors));
  if (verdict.secret_index) {
    answer.record.secret_index = verdict.secret_index;
    answer.record.secret_fingerprint = checking->fingerprints[*verdict.secret_index];
  }
  if (inspector_) {
    Request shown = keeper_.for_capture(request);
    answer.details = std::make_shared<DeliveryDetails>(
        DeliveryDetails{.target = std::move(shown.target),
                        .headers = std::move(shown.headers),
                        .body = std::move(shown.body),
                        .key = verdict.idempotency_key,
                        .queued = kind == VerdictKind::ok && options_.delivery.target != nullptr,
                        .body_read = true});
    if (verdict.envelope) {
      answer.details->skew_seconds =
          std::chrono::duration<double>(now - verdict.envelope->timestamp).count();
    }
  }
  return answer;
}

VerifierOptions Responder::with_queue(VerifierOptions verifier) const {
  // With a target, the idempotency claim also queues the delivery, in one atomic step of the
  // store: a crash never leaves a claimed delivery that is not queued.
  if (options_.delivery.target) {
    verifier.claim = [this](const Request& request, const Verdict& verdict, TimePoint now) {
      QueueEntry entry{.key = verdict.idempotency_key,
                       .event = verdict.event_name.value_or(""),
                       .request = keeper_.for_capture(request),
                       .received = now,
                       .next_attempt = now};
      Store& store = *options_.verifier.store;
      if (Handoff* handoff = Handoff::current()) {
        return handoff->claim(store, std::move(entry), options_.verifier.store_ttl,
                              options_.delivery.lease);
      }
      return store.claim_and_enqueue(entry, options_.verifier.store_ttl);
    };
  }
  return verifier;
}

}  // namespace detail
}  // namespace tykhook
