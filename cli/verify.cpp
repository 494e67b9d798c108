#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "body_limit.h"
#include "capture_files.h"
#include "commands.h"
#include "output.h"
#include "tykhook/capture.h"
#include "tykhook/explain.h"
#include "tykhook/schema.h"
#include "tykhook/store.h"
#include "tykhook/timestamp.h"

namespace tykhook::cli {
namespace {

// How many captures got each verdict, and how many inputs could not be read.
struct Tally {
  std::map<VerdictKind, std::size_t> verdicts;  // in DESIGN.md's order: the enum's
  std::size_t unreadable = 0;

  std::size_t total() const {
    std::size_t sum = unreadable;
    for (const auto& [kind, count] : verdicts) sum += count;
    return sum;
  }
  // "12 ok, 1 signature_mismatch, 1 unreadable": ok first, then the others.
  std::string summary() const {
    std::string text;
    const auto add = [&text](std::size_t count, std::string_view what) {
      if (count == 0) return;
      text += (text.empty() ? "" : ", ") + std::to_string(count) + " " + std::string(what);
    };
    if (const auto ok = verdicts.find(VerdictKind::ok); ok != verdicts.end()) {
      add(ok->second, "ok");
    }
    for (const auto& [kind, count] : verdicts) {
      if (kind != VerdictKind::ok) add(count, to_string(kind));
    }
    add(unreadable, "unreadable");
    return text;
  }
};

/// The word that `--now` takes for "the time each capture records as its arrival".
constexpr std::string_view now_received = "received";

// --now: an RFC 3339 time, or the word `received`.
CLI::Validator now_check() {
  return CLI::Validator(
      [](std::string& text) {
        if (text == now_received) return std::string();
        const std::string error = rfc3339_check()(text);
        return error.empty() ? error
                             : error + "; or received, to use the time each capture was received";
      },
      "");
}

// A hint for a stale capture: how to check it as of the time it arrived, when --now was not
// already that time. A capture that records its arrival (a tykhook JSON capture, a HAR entry)
// can take `--now received`; another one, a time given by hand, e.g. its own Timestamp.
std::optional<std::string> stale_hint(const Capture& capture, const Verdict& verdict,
                                      const std::string& now) {
  if (capture.received) {
    if (now == now_received) return std::nullopt;
    return "hint: the capture records that it was received at " +
           format_rfc3339(*capture.received) +
           "; add --now received to check the Timestamp against that time";
  }
  if (!verdict.envelope) return std::nullopt;
  return "hint: the capture records no arrival time; to check it as of the time it arrived, "
         "give that time, e.g. --now " +
         verdict.envelope->timestamp_text + " (its Timestamp)";
}

}  // namespace

CLI::Validator duration_check() {
  return CLI::Validator(
      [](const std::string& text) {
        const auto parsed = parse_duration(text);
        return parsed ? std::string() : parsed.error;
      },
      "");
}

void add_request_options(CLI::App& command, std::vector<std::string>& headers, std::string& timeout,
                         const std::string& header_help, const std::string& timeout_help) {
  command.add_option("--header", headers, header_help)
      ->type_name("\"NAME: VALUE\"")
      ->allow_extra_args(false);
  command.add_option("--timeout", timeout, timeout_help)
      ->type_name("DURATION")
      ->check(duration_check())
      ->capture_default_str();
}

CLI::Validator tolerance_check() {
  return CLI::Validator(
      [](const std::string& text) {
        if (text == "off") return std::string();
        const auto parsed = parse_duration(text);
        return parsed ? std::string() : parsed.error + ", or off";
      },
      "");
}

std::optional<std::chrono::milliseconds> tolerance_of(const std::string& text) {
  if (text.empty() || text == "off") return std::nullopt;
  return *parse_duration(text);
}

void add_max_future_option(CLI::App& command, std::string& max_future, std::string_view reference) {
  command
      .add_option("--max-future", max_future,
                  "Refuse a Timestamp further than this ahead of " + std::string(reference) +
                      ", whatever --tolerance allows in the past, e.g. 2s, 10m (default: the "
                      "tolerance)")
      ->type_name("DURATION")
      ->check(duration_check());
}

CLI::Validator rfc3339_check() {
  return CLI::Validator(
      [](const std::string& text) {
        const auto parsed = parse_rfc3339(text);
        return parsed ? std::string() : "\"" + text.substr(0, 64) + "\": " + parsed.error;
      },
      "");
}

void add_body_check_options(CLI::App& command, BodyCheckOptions& options) {
  command.add_flag("--no-schema", options.no_schema,
                   "Skip the check of Message against its schema");
  command
      .add_option("--schemas", options.schemas_dir,
                  "Directory of <Event>.schema.json files to use instead of the built-in ones; "
                  "an event without a file there keeps its built-in schema")
      ->type_name("DIR");
  command.add_flag("--allow-unknown-events", options.allow_unknown_events,
                   "Accept events that are not in the catalogue");
}

std::optional<std::string> apply_body_check_options(const BodyCheckOptions& options,
                                                    VerifierOptions& verifier) {
  verifier.allow_unknown_events = options.allow_unknown_events;
  if (options.no_schema) return std::nullopt;
  verifier.schemas = options.schemas_dir.empty()
                         ? SchemaRegistry::embedded()
                         : SchemaRegistry::from_directory(options.schemas_dir);
  return built_in_note(*verifier.schemas, options.schemas_dir);
}

std::optional<std::string> built_in_note(const SchemaRegistry& schemas, const std::string& dir) {
  const auto& built_in = schemas.built_in_events();
  if (built_in.empty()) return std::nullopt;
  std::string names;
  for (const Event event : built_in)
    names += (names.empty() ? "" : ", ") + std::string(to_string(event));
  return "--schemas " + dir + ": no file for " + std::to_string(built_in.size()) + " of " +
         std::to_string(all_events().size()) +
         " events, which keep their built-in schema: " + names;
}

CLI::App* add_verify(CLI::App& app, VerifyOptions& options) {
  CLI::App* command = app.add_subcommand(
      "verify", "Verify captured deliveries (raw HTTP, tykhook JSON capture, HAR, or a bare body)");
  command
      ->add_option("captures", options.captures,
                   "Capture files, or directories of them (e.g. listen's --capture-dir); none or - "
                   "reads standard input")
      ->type_name("CAPTURE");
  add_secret_options(*command, options.secrets);
  command
      ->add_option("--signature", options.signature,
                   "Signature for captures without an X-Signature-SHA256 header (bare bodies)")
      ->type_name("HEX");
  command
      ->add_option("--tolerance", options.tolerance,
                   "Reject a Timestamp further than this from --now, e.g. 300s, 5m, 1h, or off "
                   "(default: off)")
      ->type_name("DURATION")
      ->check(tolerance_check());
  add_max_future_option(*command, options.max_future, "--now");
  command
      ->add_option("--now", options.now,
                   "Reference time for --tolerance and --max-future, e.g. 2024-04-22T16:40:00Z, or "
                   "received: the time each capture records as its arrival (default: the clock)")
      ->type_name("RFC3339|received")
      ->check(now_check());
  add_body_check_options(*command, options.checks);
  add_body_limit_option(*command, options.max_body, "");
  command
      ->add_option("--store", options.store,
                   "Idempotency store, to report repeated deliveries as duplicate: memory:, "
                   "sqlite:PATH or redis://HOST:PORT[/DB] (default: none)")
      ->type_name("URI");
  command->add_flag("--explain", options.explain,
                    "For a signature_mismatch or malformed_signature, test every likely cause "
                    "(a re-encoded body, a BOM, Content-Length, a quoted or cut header, a "
                    "secret's white space or fingerprint) and print a hint for each that fits; "
                    "the verdict stays");
  command->add_option("--format", options.format, "Output: one line per capture (text) or JSON")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"text", "json"}).description(""))
      ->capture_default_str();
  return command;
}

int run_verify(const VerifyOptions& options) {
  bool usage_error = false;
  auto loaded = load_secrets(options.secrets);
  for (const auto& warning : loaded.warnings) {
    std::cerr << "tykhook verify: warning: " << warning << '\n';
  }
  for (const auto& error : loaded.errors) {
    std::cerr << "tykhook verify: " << error << '\n';
    usage_error = true;
  }
  if (loaded.secrets.empty()) return exit_usage;

  const std::vector<Secret> secrets = loaded.secrets;  // for the hints of a mismatch
  std::vector<std::string> fingerprints;               // to name the secret that matched, in json
  for (const Secret& secret : secrets) fingerprints.push_back(fingerprint(secret));
  // Message is checked against its schema but not kept: verify prints verdicts, never Message
  // (a third fewer instructions per capture; bench/README.md).
  VerifierOptions verifier_options{
      .secrets = std::move(loaded.secrets), .max_body = options.max_body, .keep_message = false};
  if (const auto tolerance = tolerance_of(options.tolerance)) {
    verifier_options.tolerance = *tolerance;
  }
  if (const auto max_future = tolerance_of(options.max_future)) {
    verifier_options.max_future = *max_future;
  }
  if (const auto note = apply_body_check_options(options.checks, verifier_options)) {
    std::cerr << "tykhook verify: " << *note << '\n';
  }
  if (!options.store.empty()) verifier_options.store = open_store(options.store);
  const Verifier verifier(std::move(verifier_options));
  // Whether any bound checks the Timestamp against now.
  const bool checks_time =
      tolerance_of(options.tolerance).has_value() || tolerance_of(options.max_future).has_value();
  const bool now_is_received = options.now == now_received;
  const TimePoint now = options.now.empty() || now_is_received
                            ? std::chrono::time_point_cast<std::chrono::nanoseconds>(Clock::now())
                            : *parse_rfc3339(options.now);

  if (!options.now.empty() && !checks_time) {
    std::cerr << "tykhook verify: --now has no effect without --tolerance or --max-future; add "
                 "--tolerance DURATION (e.g. 5m) to check the Timestamp against it\n";
  }

  Tally tally;
  const auto unreadable = [&](const std::string& input, const std::string& error) {
    std::cerr << "tykhook verify: " << error << '\n';
    print_unreadable(input, error, options.format);
    usage_error = true;
    ++tally.unreadable;
  };
  const std::vector<std::string> inputs =
      options.captures.empty() ? std::vector<std::string>{"-"} : options.captures;
  for (const auto& input : files_of(inputs, unreadable)) {
    std::string bytes;
    try {
      bytes = read_input(input);
    } catch (const Error& error) {
      unreadable(input, error.what());
      continue;
    }
    for (auto& capture : read_captures(bytes, input)) {
      Verdict verdict;
      std::vector<std::string> hints;  // of a signature failure: "hints" in JSON
      if (!capture.request) {
        verdict.kind = VerdictKind::malformed_request;
        verdict.errors.push_back(capture.request.error);
      } else {
        Request& request = *capture.request;
        // A capture's own header wins over --signature (DESIGN.md, "CLI contract").
        if (!options.signature.empty() && request.header_values(signature_header).empty()) {
          request.headers.push_back({std::string(signature_header), options.signature});
        }
        TimePoint capture_now = now;
        if (now_is_received && capture.received) {
          capture_now = *capture.received;
        } else if (now_is_received && checks_time) {
          // On standard error, so that --format json stays one object per capture.
          std::cerr << "tykhook verify: " << capture.input
                    << " records no arrival time; --now received uses the clock for it\n";
        }
        verdict = verifier.verify(request, capture_now);
        // The quick causes of a mismatch always; every cause, and those of a malformed header,
        // with --explain. Hints only: the verdict stays what the verifier said.
        if (verdict.kind == VerdictKind::signature_mismatch ||
            (options.explain && verdict.kind == VerdictKind::malformed_signature)) {
          hints = explain_mismatch(request, secrets, {.every_cause = options.explain});
        } else if (verdict.kind == VerdictKind::missing_signature) {
          // Advice for a capture on the command line; the receiver's answer to an HTTP client
          // does not talk about options.
          verdict.errors.push_back(
              "hint: keep the headers when capturing, or give a bare body's signature with "
              "--signature HEX");
        }
        if (verdict.kind == VerdictKind::stale) {
          if (auto hint = stale_hint(capture, verdict, options.now)) {
            verdict.errors.push_back(std::move(*hint));
          }
        }
      }
      ++tally.verdicts[verdict.kind];
      print_verdict(capture.input, verdict, options.format, hints, fingerprints);
    }
  }
  std::cout.flush();
  if (tally.total() > 1) std::cerr << "tykhook verify: " << tally.summary() << '\n';
  const bool rejected = tally.total() != tally.verdicts[VerdictKind::ok] + tally.unreadable;
  return usage_error ? exit_usage : rejected ? exit_rejected : exit_ok;
}

}  // namespace tykhook::cli
