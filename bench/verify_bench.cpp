// What each step of the verification pipeline costs per delivery, over a corpus of signed
// wire-form deliveries: by default the 13 documented samples, each with a unique fresh
// Timestamp, 1 000 deliveries in all; or the JSON-lines corpus ({"body", "signature"} per line)
// named by TYKHOOK_BENCH_CORPUS, signed with TYKHOOK_BENCH_SECRET.
//
//   verify_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "fast_check.h"
#include "tykhook/envelope.h"
#include "tykhook/schema.h"
#include "tykhook/signature.h"
#include "tykhook/verifier.h"

namespace {

using namespace tykhook;

struct Delivery {
  std::string body;
  std::string signature;
};

std::string bench_secret() {
  const char* secret = std::getenv("TYKHOOK_BENCH_SECRET");
  return secret != nullptr && *secret != '\0' ? secret : "tykhook-bench-secret";
}

std::vector<Delivery> load_corpus() {
  std::vector<Delivery> corpus;
  if (const char* path = std::getenv("TYKHOOK_BENCH_CORPUS"); path != nullptr && *path != '\0') {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(std::string("TYKHOOK_BENCH_CORPUS: cannot read ") + path);
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      const auto entry = nlohmann::json::parse(line);
      corpus.push_back({entry.at("body"), entry.at("signature")});
    }
    return corpus;
  }
  const std::string secret = bench_secret();
  const TimePoint start = std::chrono::time_point_cast<std::chrono::nanoseconds>(Clock::now());
  std::vector<std::string_view> samples;
  for (const Event event : all_events()) {
    if (const auto body = sample_body(event)) samples.push_back(*body);
  }
  for (int i = 0; i < 1000; ++i) {
    // Unique and fresh, 1 us apart (+1 ns so that every Timestamp has 9 fraction digits).
    auto body = *with_timestamp(samples[i % samples.size()],
                                start + std::chrono::microseconds(i) + std::chrono::nanoseconds(1));
    corpus.push_back({body, sign(secret, body)});
  }
  return corpus;
}

const std::vector<Delivery>& corpus() {
  static const std::vector<Delivery> deliveries = load_corpus();
  return deliveries;
}

std::vector<Delivery> of_event(Event event) {
  std::vector<Delivery> selected;
  for (const auto& delivery : corpus()) {
    if (parse_envelope(delivery.body).envelope->event == event) selected.push_back(delivery);
  }
  return selected;
}

// Runs `step` over `deliveries` in turn, reporting deliveries and body bytes per second.
template <class Step>
void over(benchmark::State& state, const std::vector<Delivery>& deliveries, Step step) {
  std::size_t i = 0;
  std::int64_t bytes = 0;
  for (auto _ : state) {
    const Delivery& delivery = deliveries[i];
    step(delivery);
    bytes += static_cast<std::int64_t>(delivery.body.size());
    i = i + 1 == deliveries.size() ? 0 : i + 1;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(bytes);
}

Verifier make_verifier(bool schemas, bool keep_message = true) {
  VerifierOptions options;
  options.secrets.emplace_back(bench_secret());
  if (schemas) options.schemas = SchemaRegistry::embedded();
  options.keep_message = keep_message;
  return Verifier(std::move(options));
}

Request as_request(const Delivery& delivery) {
  return Request{.headers = {{std::string(signature_header), delivery.signature}},
                 .body = delivery.body};
}

void BM_sign(benchmark::State& state) {
  const std::string secret = bench_secret();
  over(state, corpus(), [&](const Delivery& d) { benchmark::DoNotOptimize(sign(secret, d.body)); });
}

void BM_signature_verify(benchmark::State& state) {
  const SignatureVerifier verifier({Secret(bench_secret())});
  over(state, corpus(), [&](const Delivery& d) {
    const auto digest = parse_signature_header(d.signature);
    benchmark::DoNotOptimize(verifier.match(d.body, *digest));
  });
}

void BM_idempotency_key(benchmark::State& state) {
  over(state, corpus(),
       [](const Delivery& d) { benchmark::DoNotOptimize(idempotency_key(d.body)); });
}

// The verifier's fast path alone: parse, envelope, schema plan and the Message's nlohmann tree.
void BM_fast_check(benchmark::State& state) {
  const auto schemas = SchemaRegistry::embedded();
  const detail::FastChecker fast(schemas.get(), false);
  over(state, corpus(), [&](const Delivery& d) {
    const auto envelope = fast.check(d.body);
    if (!envelope) state.SkipWithError("the fast path declined a corpus delivery");
    benchmark::DoNotOptimize(envelope);
  });
}

// What the fast path replaces: check_body's nlohmann parse and valijson validation.
void BM_check_body(benchmark::State& state) {
  const auto schemas = SchemaRegistry::embedded();
  over(state, corpus(), [&](const Delivery& d) {
    benchmark::DoNotOptimize(check_body(d.body, schemas.get(), false));
  });
}

void BM_envelope_parse(benchmark::State& state) {
  over(state, corpus(),
       [](const Delivery& d) { benchmark::DoNotOptimize(parse_envelope(d.body)); });
}

void BM_schema_validate(benchmark::State& state) {
  const auto schemas = SchemaRegistry::embedded();
  std::vector<Envelope> envelopes;
  for (const auto& delivery : corpus())
    envelopes.push_back(*parse_envelope(delivery.body).envelope);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(schemas->validate(*envelopes[i].event, envelopes[i].message));
    i = i + 1 == envelopes.size() ? 0 : i + 1;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// The whole verifier over the corpus; `keep_message` false as the receiver runs it without
// handlers.
void verify_corpus(benchmark::State& state, bool keep_message) {
  const Verifier verifier = make_verifier(true, keep_message);
  std::vector<Request> requests;
  for (const auto& delivery : corpus()) requests.push_back(as_request(delivery));
  const TimePoint now = std::chrono::time_point_cast<std::chrono::nanoseconds>(Clock::now());
  std::size_t i = 0;
  std::int64_t bytes = 0;
  for (auto _ : state) {
    const auto verdict = verifier.verify(requests[i], now);
    if (!verdict.ok()) state.SkipWithError("a corpus delivery did not verify");
    bytes += static_cast<std::int64_t>(requests[i].body.size());
    i = i + 1 == requests.size() ? 0 : i + 1;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(bytes);
}

void BM_verify(benchmark::State& state) { verify_corpus(state, true); }
void BM_verify_without_message(benchmark::State& state) { verify_corpus(state, false); }

void BM_verify_without_schema(benchmark::State& state) {
  const Verifier verifier = make_verifier(false);
  const TimePoint now = std::chrono::time_point_cast<std::chrono::nanoseconds>(Clock::now());
  over(state, corpus(),
       [&](const Delivery& d) { benchmark::DoNotOptimize(verifier.verify(as_request(d), now)); });
}

void BM_verify_event(benchmark::State& state, Event event) {
  const Verifier verifier = make_verifier(true);
  const auto deliveries = of_event(event);
  if (deliveries.empty()) {
    state.SkipWithError("no delivery of this event in the corpus");
    return;
  }
  const TimePoint now = std::chrono::time_point_cast<std::chrono::nanoseconds>(Clock::now());
  over(state, deliveries,
       [&](const Delivery& d) { benchmark::DoNotOptimize(verifier.verify(as_request(d), now)); });
}

}  // namespace

BENCHMARK(BM_sign);
BENCHMARK(BM_signature_verify);
BENCHMARK(BM_idempotency_key);
BENCHMARK(BM_fast_check);
BENCHMARK(BM_check_body);
BENCHMARK(BM_envelope_parse);
BENCHMARK(BM_schema_validate);
BENCHMARK(BM_verify);
BENCHMARK(BM_verify_without_message);
BENCHMARK(BM_verify_without_schema);

int main(int argc, char** argv) {
  for (const Event event : all_events()) {
    if (!sample_body(event)) continue;
    benchmark::RegisterBenchmark(("BM_verify_event/" + std::string(to_string(event))).c_str(),
                                 BM_verify_event, event);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
