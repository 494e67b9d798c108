// The load and fault client of tests/load/load_test.sh: plays a busy portal (and a few hostile
// clients) against `tykhook listen`, records every answer, and checks the capture directory
// against what was answered.
//
//   load_client run    --url URL --secret-file F --connections N --duration S --records FILE
//                      [--expect strict|tolerant|outage] [--pause MS] [--summary FILE]
//   load_client replay --url URL --secret-file F --records FILE [--summary FILE]
//   load_client check  --secret-file F --records FILE... --capture-dir DIR [--allow-temporary]
//
// `run` sends from N keep-alive connections (one thread each) a mix of deliveries, each kind
// with the answer DESIGN.md gives it:
//   valid             a sample body with a fresh, unique Timestamp       200 ok
//   duplicate         an exact copy of a valid one this connection had   200 duplicate
//                     answered 200 ok
//   bad_signature     a valid body with a signature of another body      401 signature_mismatch
//   schema_violation  a valid body with CreatedAt as a number, signed    202 schema_violation
// and writes one JSON line per request to the records file. `--expect` says which answers pass:
// strict (only those above, no connection error), outage (the store is down: every delivery
// that needs a claim is 503 `error`, never acknowledged), tolerant (a fault happens during the
// run: 503 `error` and connection errors are allowed, nothing else).
// `replay` sends again every valid and schema_violation delivery that was acknowledged (2xx)
// in the records, and expects 200 duplicate and 202 schema_violation: the claims survived.
// `check` holds the capture directory to the records: every acknowledged delivery that must be
// kept has exactly one complete capture that re-verifies to its verdict; nothing is captured
// that was not sent or was not authentic.
// Exit status: 0 every check passed; 1 one failed (each failure on standard error); 2 usage.
#include <httplib.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tykhook/capture.h"
#include "tykhook/events.h"
#include "tykhook/schema.h"
#include "tykhook/signature.h"
#include "tykhook/timestamp.h"
#include "tykhook/verifier.h"

namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;
using nlohmann::json;

constexpr std::string_view verdict_header = "X-Tykhook-Verdict";

enum class Kind { valid, duplicate, bad_signature, schema_violation };

std::string_view to_string(Kind kind) {
  switch (kind) {
    case Kind::valid:
      return "valid";
    case Kind::duplicate:
      return "duplicate";
    case Kind::bad_signature:
      return "bad_signature";
    case Kind::schema_violation:
      return "schema_violation";
  }
  return "?";
}

/// The answer DESIGN.md gives each kind of delivery.
struct Expected {
  int status;
  std::string_view verdict;
};

Expected expected_of(Kind kind) {
  switch (kind) {
    case Kind::valid:
      return {200, "ok"};
    case Kind::duplicate:
      return {200, "duplicate"};
    case Kind::bad_signature:
      return {401, "signature_mismatch"};
    case Kind::schema_violation:
      return {202, "schema_violation"};
  }
  return {0, ""};
}

/// One request and its answer; status 0 means no answer (a connection error).
struct Record {
  Kind kind = Kind::valid;
  std::string key;  // the idempotency key: SHA-256 of the body, lower-case hex
  int status = 0;
  std::string verdict;
  std::string error;  // the client's error when there was no answer
  double ms = 0;
  std::string body;  // kept for valid and schema_violation deliveries, for replay
  std::string signature;
};

json to_json(const Record& record) {
  json line = {{"kind", to_string(record.kind)},
               {"key", record.key},
               {"status", record.status},
               {"verdict", record.verdict},
               {"ms", record.ms}};
  if (!record.error.empty()) line["error"] = record.error;
  if (!record.body.empty()) {
    line["body"] = record.body;
    line["signature"] = record.signature;
  }
  return line;
}

std::vector<Record> read_records(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot read the records");
  std::vector<Record> records;
  std::string text;
  const std::map<std::string, Kind> kinds = {{"valid", Kind::valid},
                                             {"duplicate", Kind::duplicate},
                                             {"bad_signature", Kind::bad_signature},
                                             {"schema_violation", Kind::schema_violation}};
  while (std::getline(in, text)) {
    const json line = json::parse(text);
    Record record;
    record.kind = kinds.at(line.at("kind").get<std::string>());
    record.key = line.at("key").get<std::string>();
    record.status = line.at("status").get<int>();
    record.verdict = line.at("verdict").get<std::string>();
    if (line.contains("body")) {
      record.body = line["body"].get<std::string>();
      record.signature = line["signature"].get<std::string>();
    }
    records.push_back(std::move(record));
  }
  return records;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot read");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

std::string read_secret(const std::string& path) {
  std::string secret = read_file(path);
  if (secret.ends_with("\r\n")) {
    secret.resize(secret.size() - 2);
  } else if (secret.ends_with('\n')) {
    secret.pop_back();
  }
  return secret;
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed in the crypto library");
  }
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += digits[digest[i] >> 4];
    hex += digits[digest[i] & 0x0f];
  }
  return hex;
}

// ---- bodies ----------------------------------------------------------------------------------

/// Makes the bodies of one run. Every body is unique: its Timestamp is now, with a fraction of
/// second that holds a number of this process (its pid) and a sequence number.
class BodyMaker {
 public:
  BodyMaker() : nonce_(static_cast<unsigned>(::getpid()) % 1000) {
    for (const tykhook::Event event : tykhook::all_events()) {
      const auto sample = tykhook::sample_body(event);
      if (!sample) continue;  // RegisterInvite has no documented payload
      if (sample->rfind("\"Timestamp\":\"") == std::string_view::npos ||
          sample->find("\"CreatedAt\":\"") == std::string_view::npos) {
        throw std::runtime_error("the sample of " + std::string(tykhook::to_string(event)) +
                                 " has no Timestamp or no CreatedAt; the load client needs both");
      }
      samples_.emplace_back(*sample);
    }
  }

  /// A fresh authentic body: a sample with a unique Timestamp of now.
  std::string valid(std::size_t pick) {
    std::string body = samples_[pick % samples_.size()];
    const std::string stamp = "\"Timestamp\":\"";
    const auto start = body.rfind(stamp) + stamp.size();
    const auto end = body.find('"', start);
    body.replace(start, end - start, timestamp());
    return body;
  }

  /// A fresh body whose Message breaks its schema: CreatedAt is a number, not a time.
  std::string schema_violation(std::size_t pick) {
    std::string body = valid(pick);
    const std::string created = "\"CreatedAt\":";
    const auto start = body.find(created) + created.size();
    const auto end = body.find('"', start + 1) + 1;
    body.replace(start, end - start, "1713448562");
    return body;
  }

 private:
  std::string timestamp() {
    const auto now = std::chrono::floor<std::chrono::seconds>(tykhook::Clock::now());
    std::string text = tykhook::format_rfc3339(tykhook::TimePoint(now));  // "...T15:26:04Z"
    char fraction[16];
    const auto sequence = sequence_.fetch_add(1) % 1'000'000;
    std::snprintf(fraction, sizeof fraction, ".%03u%06llu", nonce_,
                  static_cast<unsigned long long>(sequence));
    text.insert(text.size() - 1, fraction);
    return text;
  }

  unsigned nonce_;
  std::atomic<std::uint64_t> sequence_{0};
  std::vector<std::string> samples_;
};

// ---- the HTTP side ---------------------------------------------------------------------------

struct Target {
  std::string host;
  int port = 0;
  std::string path;
};

Target parse_url(const std::string& url) {
  const std::string scheme = "http://";
  if (!url.starts_with(scheme))
    throw CLI::ValidationError("--url", "expected http://HOST:PORT/PATH");
  const auto rest = url.substr(scheme.size());
  const auto slash = rest.find('/');
  const auto authority = rest.substr(0, slash);
  const auto colon = authority.rfind(':');
  if (colon == std::string::npos) throw CLI::ValidationError("--url", "expected a port");
  return {authority.substr(0, colon), std::stoi(authority.substr(colon + 1)),
          slash == std::string::npos ? "/" : rest.substr(slash)};
}

/// One keep-alive connection to the receiver.
class Connection {
 public:
  explicit Connection(const Target& target) : target_(target), client_(target.host, target.port) {
    client_.set_keep_alive(true);
    // Headers and body go out in two writes: without it the body waits for the delayed ACK.
    client_.set_tcp_nodelay(true);
    client_.set_connection_timeout(5, 0);
    // Long enough that a slow answer under load is an answer, not a connection error.
    client_.set_read_timeout(30, 0);
    client_.set_write_timeout(30, 0);
  }

  /// Sends `body` with `signature` and fills the answer into `record`.
  void send(const std::string& body, const std::string& signature, Record& record) {
    const httplib::Headers headers = {{"X-Signature-SHA256", signature}};
    const auto started = SteadyClock::now();
    const auto result = client_.Post(target_.path.c_str(), headers, body, "application/json");
    record.ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - started).count();
    if (!result) {
      record.status = 0;
      record.error = httplib::to_string(result.error());
      return;
    }
    record.status = result->status;
    record.verdict = result->get_header_value(std::string(verdict_header).c_str());
  }

 private:
  const Target& target_;
  httplib::Client client_;
};

// ---- judging answers --------------------------------------------------------------------------

enum class Expect { strict, tolerant, outage };

/// Empty when `record`'s answer passes under `expect`, else why not.
std::string judge(const Record& record, Expect expect) {
  const Expected want = expected_of(record.kind);
  const bool as_designed = record.status == want.status && record.verdict == want.verdict;
  const bool unavailable = record.status == 503 && record.verdict == "error";
  // A bad signature is refused before the store is asked: it is 401 whatever the store does.
  const bool needs_store = record.kind != Kind::bad_signature;
  bool pass = false;
  switch (expect) {
    case Expect::strict:
      pass = as_designed;
      break;
    case Expect::tolerant:
      pass = as_designed || (needs_store && unavailable) || record.status == 0;
      break;
    case Expect::outage:
      pass = needs_store ? unavailable : as_designed;
      break;
  }
  if (pass) return {};
  std::string why = std::string(to_string(record.kind)) + " delivery " + record.key.substr(0, 12) +
                    ": answered " +
                    (record.status == 0 ? "nothing (" + record.error + ")"
                                        : std::to_string(record.status) + " " + record.verdict);
  if (expect == Expect::outage && needs_store) return why + ", expected 503 error";
  return why + ", expected " + std::to_string(want.status) + " " + std::string(want.verdict) +
         (expect == Expect::tolerant && needs_store ? " or 503 error" : "");
}

/// Counts and the figures of a run; printed as one JSON object.
json summarise(const std::vector<Record>& records, double seconds, Expect expect,
               std::vector<std::string>& failures) {
  std::map<std::string, std::map<std::string, std::size_t>> answers;  // kind -> "status verdict"
  std::map<std::string, std::size_t> statuses;
  std::size_t connection_errors = 0, server_errors = 0;
  std::vector<double> ms;
  for (const Record& record : records) {
    const std::string answer =
        record.status == 0 ? "no answer" : std::to_string(record.status) + " " + record.verdict;
    ++answers[std::string(to_string(record.kind))][answer];
    ++statuses[record.status == 0 ? "none" : std::to_string(record.status)];
    if (record.status == 0) ++connection_errors;
    if (record.status >= 500) ++server_errors;
    if (record.status != 0) ms.push_back(record.ms);
    if (std::string why = judge(record, expect); !why.empty()) failures.push_back(std::move(why));
  }
  std::sort(ms.begin(), ms.end());
  const auto percentile = [&](double p) {
    return ms.empty() ? 0.0 : ms[std::min(ms.size() - 1, static_cast<std::size_t>(p * ms.size()))];
  };
  return {{"requests", records.size()},
          {"seconds", seconds},
          {"requests_per_second", seconds > 0 ? static_cast<double>(records.size()) / seconds : 0},
          {"statuses", statuses},
          {"answers", answers},
          {"connection_errors", connection_errors},
          {"server_errors", server_errors},
          {"latency_ms",
           {{"p50", percentile(0.50)},
            {"p99", percentile(0.99)},
            {"max", ms.empty() ? 0.0 : ms.back()}}},
          {"failures", failures.size()}};
}

int report(const json& summary, const std::vector<std::string>& failures,
           const std::string& summary_path, std::string_view what) {
  const std::string text = summary.dump();
  std::cout << text << std::endl;
  if (!summary_path.empty()) std::ofstream(summary_path) << text << '\n';
  const std::size_t shown = std::min<std::size_t>(failures.size(), 20);
  for (std::size_t i = 0; i < shown; ++i)
    std::cerr << "load_client " << what << ": " << failures[i] << '\n';
  if (failures.size() > shown) {
    std::cerr << "load_client " << what << ": ... and " << failures.size() - shown << " more\n";
  }
  return failures.empty() ? 0 : 1;
}

void write_records(const std::string& path, const std::vector<Record>& records) {
  std::ofstream out(path);
  for (const Record& record : records) out << to_json(record).dump() << '\n';
  if (!out) throw std::runtime_error(path + ": cannot write the records");
}

// ---- run ---------------------------------------------------------------------------------------

struct RunOptions {
  std::string url, secret_file, records, summary;
  int connections = 64;
  double duration = 10;
  int pause_ms = 0;
  std::string expect = "strict";
  // Percentages of each kind; valid takes the rest.
  int duplicate = 10, bad_signature = 10, schema_violation = 10;
};

int run(const RunOptions& options) {
  const Target target = parse_url(options.url);
  const std::string secret = read_secret(options.secret_file);
  const Expect expect = options.expect == "strict"   ? Expect::strict
                        : options.expect == "outage" ? Expect::outage
                                                     : Expect::tolerant;
  BodyMaker maker;
  std::vector<std::vector<Record>> per_connection(static_cast<std::size_t>(options.connections));
  const auto started = SteadyClock::now();
  const auto end = started + std::chrono::duration_cast<SteadyClock::duration>(
                                 std::chrono::duration<double>(options.duration));
  std::vector<std::thread> threads;
  for (int index = 0; index < options.connections; ++index) {
    threads.emplace_back([&, index] {
      auto& records = per_connection[static_cast<std::size_t>(index)];
      std::mt19937 random(static_cast<unsigned>(index) + 1);
      std::uniform_int_distribution<int> percent(0, 99);
      std::vector<std::size_t> acknowledged;  // indexes of this connection's valid 200 ok
      Connection connection(target);
      while (SteadyClock::now() < end) {
        Record record;
        const int roll = percent(random);
        record.kind = roll < options.duplicate                           ? Kind::duplicate
                      : roll < options.duplicate + options.bad_signature ? Kind::bad_signature
                      : roll < options.duplicate + options.bad_signature + options.schema_violation
                          ? Kind::schema_violation
                          : Kind::valid;
        if (record.kind == Kind::duplicate && acknowledged.empty()) record.kind = Kind::valid;
        const std::size_t pick = random();
        std::string body, signature;
        switch (record.kind) {
          case Kind::valid:
            body = maker.valid(pick);
            signature = tykhook::sign(secret, body);
            break;
          case Kind::duplicate: {
            const Record& original = records[acknowledged[pick % acknowledged.size()]];
            body = original.body;
            signature = original.signature;
            break;
          }
          case Kind::bad_signature:
            body = maker.valid(pick);
            // A real signature, of another body: well-formed, and wrong.
            signature = tykhook::sign(secret, body + " ");
            break;
          case Kind::schema_violation:
            body = maker.schema_violation(pick);
            signature = tykhook::sign(secret, body);
            break;
        }
        record.key = sha256_hex(body);
        connection.send(body, signature, record);
        if (record.kind == Kind::valid || record.kind == Kind::schema_violation) {
          record.body = std::move(body);
          record.signature = std::move(signature);
        }
        if (record.kind == Kind::valid && record.status == 200 && record.verdict == "ok") {
          acknowledged.push_back(records.size());
        }
        const bool failed = record.status == 0;
        records.push_back(std::move(record));
        // A receiver that is gone refuses at once: do not spin on it.
        if (failed) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (options.pause_ms > 0) {
          std::this_thread::sleep_for(std::chrono::milliseconds(options.pause_ms));
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
  std::vector<Record> records;
  for (auto& part : per_connection) {
    std::move(part.begin(), part.end(), std::back_inserter(records));
  }
  write_records(options.records, records);
  std::vector<std::string> failures;
  json summary = summarise(records, seconds, expect, failures);
  summary["connections"] = options.connections;
  summary["expect"] = options.expect;
  if (records.empty()) failures.push_back("no request was sent");
  return report(summary, failures, options.summary, "run");
}

// ---- replay ------------------------------------------------------------------------------------

int replay(const std::string& url, const std::string& records_path,
           const std::string& summary_path) {
  const Target target = parse_url(url);
  std::vector<Record> sent;
  const auto started = SteadyClock::now();
  Connection connection(target);
  std::vector<std::string> failures;
  for (const Record& original : read_records(records_path)) {
    const bool acknowledged = original.status >= 200 && original.status < 300;
    if (!acknowledged || original.body.empty()) continue;
    Record record;
    record.kind = original.kind == Kind::valid ? Kind::duplicate : Kind::schema_violation;
    record.key = original.key;
    connection.send(original.body, original.signature, record);
    sent.push_back(std::move(record));
  }
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
  json summary = summarise(sent, seconds, Expect::strict, failures);
  if (sent.empty()) failures.push_back(records_path + ": no acknowledged delivery to replay");
  return report(summary, failures, summary_path, "replay");
}

// ---- check -------------------------------------------------------------------------------------

int check(const std::string& secret_file, const std::vector<std::string>& records_paths,
          const std::string& capture_dir, bool allow_temporary) {
  std::vector<std::string> failures;
  // What each key must have: exactly one capture, at most one, or none.
  enum class Need { none, at_most_one, exactly_one };
  std::map<std::string, Need> need;
  std::map<std::string, Kind> kind_of;
  const auto require = [&](const std::string& key, Need level) {
    auto [it, inserted] = need.try_emplace(key, level);
    if (!inserted) it->second = std::max(it->second, level);
  };
  std::size_t records_read = 0;
  for (const auto& path : records_paths) {
    for (const Record& record : read_records(path)) {
      ++records_read;
      if (record.kind == Kind::duplicate) continue;  // the original's rule covers it
      if (record.kind == Kind::bad_signature) {
        require(record.key, Need::none);
        continue;
      }
      kind_of[record.key] = record.kind;
      const bool acknowledged = record.status == expected_of(record.kind).status &&
                                record.verdict == expected_of(record.kind).verdict;
      // Unanswered (or refused with 503): it may have been kept, once at most.
      require(record.key, acknowledged ? Need::exactly_one : Need::at_most_one);
    }
  }

  tykhook::VerifierOptions verifier_options;
  verifier_options.secrets.emplace_back(read_secret(secret_file));
  verifier_options.schemas = tykhook::SchemaRegistry::embedded();
  const tykhook::Verifier verifier(std::move(verifier_options));

  std::map<std::string, std::size_t> captured;
  std::size_t files = 0, temporary = 0;
  for (const auto& entry : fs::directory_iterator(capture_dir)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(".")) {
      // A capture being written when the receiver was killed: hidden, never a capture.
      ++temporary;
      if (!allow_temporary) failures.push_back(name + ": a temporary file was left behind");
      continue;
    }
    ++files;
    // <UTC time>-<64 hex digits>.json
    if (!name.ends_with(".json") || name.size() < 70 || name[name.size() - 70] != '-') {
      failures.push_back(name + ": not named <time>-<idempotency key>.json");
      continue;
    }
    const std::string key = name.substr(name.size() - 69, 64);
    ++captured[key];
    const std::string text = read_file(entry.path());
    const auto captures = tykhook::read_captures(text, name);
    if (captures.size() != 1 || !captures.front().request) {
      failures.push_back(name + ": not one readable capture (half-written?): " +
                         (captures.empty() ? "none" : captures.front().request.error));
      continue;
    }
    const tykhook::Request& request = *captures.front().request;
    if (sha256_hex(request.body) != key) {
      failures.push_back(name + ": its body is not the body of its name (half-written?)");
      continue;
    }
    const auto it = kind_of.find(key);
    if (it == kind_of.end()) {
      failures.push_back(name + ": a capture of a delivery that no record sent as authentic");
      continue;
    }
    const std::string got =
        std::string(tykhook::to_string(verifier.verify(request, tykhook::Clock::now()).kind));
    const std::string want(expected_of(it->second).verdict);
    if (got != want) failures.push_back(name + ": re-verifies to " + got + ", expected " + want);
  }
  std::size_t exactly_one = 0;
  for (const auto& [key, level] : need) {
    const std::size_t count = captured.count(key) ? captured[key] : 0;
    if (level == Need::exactly_one) ++exactly_one;
    if (level == Need::exactly_one && count != 1) {
      failures.push_back(std::string(to_string(kind_of[key])) + " delivery " + key.substr(0, 12) +
                         ": acknowledged, and captured " + std::to_string(count) +
                         " times; expected once");
    } else if (level == Need::at_most_one && count > 1) {
      failures.push_back("delivery " + key.substr(0, 12) + ": captured " + std::to_string(count) +
                         " times; expected at most once");
    } else if (level == Need::none && count != 0) {
      failures.push_back("bad_signature delivery " + key.substr(0, 12) +
                         ": captured; a delivery that fails the signature must not be kept");
    }
  }
  const json summary = {{"records", records_read},
                        {"capture_files", files},
                        {"acknowledged_to_keep", exactly_one},
                        {"temporary_files", temporary},
                        {"failures", failures.size()}};
  return report(summary, failures, "", "check");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Load and fault client for tykhook listen (tests/load/load_test.sh)");
  app.require_subcommand(1);
  RunOptions run_options;
  CLI::App* run_command = app.add_subcommand("run", "Send a mix of deliveries for a duration");
  run_command->add_option("--url", run_options.url, "http://HOST:PORT/PATH")->required();
  run_command->add_option("--secret-file", run_options.secret_file)->required();
  run_command->add_option("--records", run_options.records, "One JSON line per request")
      ->required();
  run_command->add_option("--summary", run_options.summary, "Also write the summary here");
  run_command->add_option("--connections", run_options.connections)->check(CLI::Range(1, 1024));
  run_command->add_option("--duration", run_options.duration, "Seconds")
      ->check(CLI::PositiveNumber);
  run_command->add_option("--pause", run_options.pause_ms, "Milliseconds between requests");
  run_command->add_option("--expect", run_options.expect)
      ->check(CLI::IsMember({"strict", "tolerant", "outage"}));
  run_command->add_option("--duplicate", run_options.duplicate, "Percent")
      ->check(CLI::Range(0, 100));
  run_command->add_option("--bad-signature", run_options.bad_signature, "Percent")
      ->check(CLI::Range(0, 100));
  run_command->add_option("--schema-violation", run_options.schema_violation, "Percent")
      ->check(CLI::Range(0, 100));

  std::string url, secret_file, records, summary, capture_dir;
  std::vector<std::string> records_list;
  bool allow_temporary = false;
  CLI::App* replay_command =
      app.add_subcommand("replay", "Send the acknowledged deliveries of a run again");
  replay_command->add_option("--url", url)->required();
  replay_command->add_option("--secret-file", secret_file);
  replay_command->add_option("--records", records)->required();
  replay_command->add_option("--summary", summary);
  CLI::App* check_command =
      app.add_subcommand("check", "Hold a capture directory to the records of runs");
  check_command->add_option("--secret-file", secret_file)->required();
  check_command->add_option("--records", records_list)->required();
  check_command->add_option("--capture-dir", capture_dir)->required();
  check_command->add_flag("--allow-temporary", allow_temporary,
                          "Hidden temporary files are expected (the receiver was killed)");
  try {
    app.parse(argc, argv);
    if (run_command->parsed()) {
      if (run_options.duplicate + run_options.bad_signature + run_options.schema_violation > 100) {
        throw CLI::ValidationError("--duplicate, --bad-signature, --schema-violation",
                                   "add up to more than 100 percent");
      }
      return run(run_options);
    }
    if (replay_command->parsed()) return replay(url, records, summary);
    return check(secret_file, records_list, capture_dir, allow_temporary);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  } catch (const std::exception& error) {
    std::cerr << "load_client: " << error.what() << '\n';
    return 2;
  }
}
