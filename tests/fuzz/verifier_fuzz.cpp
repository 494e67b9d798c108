// Fuzz target: the whole verifier, with one fixed secret, the embedded schemas and a memory
// store. The first byte of the input chooses how the rest is used and with which options:
//
//   bit 0   0: the rest is a body, signed here with the secret (reaches past the signature)
//           1: the rest is a capture file, read with read_captures, each capture verified
//   bit 1   allow unknown events
//   bit 2   a tolerance of 5 minutes around a fixed now (2024-04-24T15:26:04Z)
//   bit 3   a body limit of 256 bytes instead of the default 1 MiB
//
// The secret is the demo secret that signed samples/captures/, so the sample captures reach
// every check. Properties checked for every verdict: a message for each verdict but ok (short,
// UTF-8), the event only once the envelope is read, a body signed here is always authentic,
// and a delivery that passed is a duplicate the second time.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "fuzz_checks.h"
#include "tykhook/capture.h"
#include "tykhook/request.h"
#include "tykhook/schema.h"
#include "tykhook/signature.h"
#include "tykhook/store.h"
#include "tykhook/timestamp.h"
#include "tykhook/verifier.h"

namespace {

using tykhook::Verdict;
using tykhook::VerdictKind;
using tykhook::fuzz::require;

constexpr std::string_view secret = "tykhook-demo-secret-do-not-use-in-production";
const tykhook::TimePoint now{std::chrono::seconds(1713972364)};  // 2024-04-24T15:26:04Z

constexpr unsigned sign_nothing_bit = 1;
constexpr unsigned allow_unknown_bit = 2;
constexpr unsigned tolerance_bit = 4;
constexpr unsigned small_body_bit = 8;

struct Setup {
  std::shared_ptr<tykhook::Store> store;
  std::unique_ptr<tykhook::Verifier> verifier;
  // The same options without keep_message, with a store of its own.
  std::shared_ptr<tykhook::Store> lean_store;
  std::unique_ptr<tykhook::Verifier> lean;
};

// One verifier per combination of the option bits, each with its own store, made once.
const Setup& setup_for(unsigned options) {
  static const auto setups = [] {
    std::array<Setup, 8> all;
    for (unsigned i = 0; i < all.size(); ++i) {
      const unsigned bits = i << 1;
      tykhook::VerifierOptions verifier_options;
      verifier_options.secrets.emplace_back(std::string(secret));
      if ((bits & tolerance_bit) != 0) verifier_options.tolerance = std::chrono::minutes(5);
      if ((bits & small_body_bit) != 0) verifier_options.max_body = 256;
      verifier_options.schemas = tykhook::SchemaRegistry::embedded();
      verifier_options.allow_unknown_events = (bits & allow_unknown_bit) != 0;
      all[i].store = tykhook::open_store("memory:");
      verifier_options.store = all[i].store;
      all[i].verifier = std::make_unique<tykhook::Verifier>(verifier_options);
      all[i].lean_store = tykhook::open_store("memory:");
      verifier_options.store = all[i].lean_store;
      verifier_options.keep_message = false;
      all[i].lean = std::make_unique<tykhook::Verifier>(std::move(verifier_options));
    }
    return all;
  }();
  return setups[(options >> 1) & 7];
}

void require_verdict(const Verdict& verdict, const tykhook::Request& request) {
  const std::string name(tykhook::to_string(verdict.kind));
  if (verdict.ok()) {
    require(verdict.errors.empty(), "ok has no errors");
  } else {
    require(!verdict.errors.empty(), name + " has no message");
  }
  for (const auto& error : verdict.errors) tykhook::fuzz::require_message(error, name);
  const bool authentic = tykhook::is_authentic(verdict.kind);
  require(verdict.secret_index.has_value() == authentic, name + ": secret_index iff authentic");
  require(authentic == !verdict.idempotency_key.empty(), name + ": key iff authentic");
  if (authentic) {
    require(verdict.idempotency_key == tykhook::idempotency_key(request.body),
            name + ": the key is the body's SHA-256");
  }
  // The event is known once the envelope is read: from unknown_event on.
  const bool read = authentic && verdict.kind != VerdictKind::malformed_json &&
                    verdict.kind != VerdictKind::invalid_envelope;
  require(verdict.envelope.has_value() == read, name + ": envelope iff it was read");
  require(verdict.event_name.has_value() == read, name + ": event name iff envelope");
  if (read) {
    require(tykhook::fuzz::is_utf8(*verdict.event_name), name + ": event name is UTF-8");
    require(verdict.event.has_value() == (verdict.kind != VerdictKind::unknown_event &&
                                          tykhook::parse_event(*verdict.event_name).has_value()),
            name + ": the event is known unless unknown_event");
  }
}

// Verifies `request`; one that passes is verified again to see the store call it a duplicate,
// and is then forgotten, so that each input is judged as if it came first.
VerdictKind verify(const Setup& setup, const tykhook::Request& request) {
  const Verdict verdict = setup.verifier->verify(request, now);
  require_verdict(verdict, request);
  const Verdict lean = setup.lean->verify(request, now);
  require(lean.kind == verdict.kind && lean.errors == verdict.errors,
          "without keep_message, the same verdict");
  require(!lean.envelope || lean.envelope->message.is_null(), "without keep_message, no Message");
  if (lean.ok()) setup.lean_store->release(lean.idempotency_key);
  if (!verdict.ok()) return verdict.kind;
  const Verdict again = setup.verifier->verify(request, now);
  require_verdict(again, request);
  require(again.kind == VerdictKind::duplicate, "a delivery that passed is a duplicate next time");
  setup.store->release(verdict.idempotency_key);
  return verdict.kind;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned options = data[0];
  const auto rest = tykhook::fuzz::bytes_of(data + 1, size - 1);
  const Setup& setup = setup_for(options);

  if ((options & sign_nothing_bit) == 0) {
    tykhook::Request request;
    request.body = std::string(rest);
    request.headers.push_back({"X-Signature-SHA256", tykhook::sign(secret, rest)});
    const VerdictKind kind = verify(setup, request);
    require(kind == VerdictKind::too_large || tykhook::is_authentic(kind),
            "a body signed with the secret is authentic: " + std::string(tykhook::to_string(kind)));
    return 0;
  }

  for (const auto& capture : tykhook::read_captures(rest, "fuzz")) {
    if (capture.request) verify(setup, *capture.request);
  }
  return 0;
}
