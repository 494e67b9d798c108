#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "delivery_options.h"
#include "secrets.h"
#include "tykhook/verifier.h"

namespace tykhook::cli {

/// Exit statuses (DESIGN.md, "CLI contract"): 0 every capture ok, 1 any not, 2 usage or I/O.
enum Exit { exit_ok = 0, exit_rejected = 1, exit_usage = 2 };

/// The options of the body checks that `verify` and `listen` share.
struct BodyCheckOptions {
  bool no_schema = false;             ///< --no-schema
  std::string schemas_dir;            ///< --schemas DIR; empty: the built-in schemas
  bool allow_unknown_events = false;  ///< --allow-unknown-events
};

/// Adds --no-schema, --schemas DIR and --allow-unknown-events to `command`.
void add_body_check_options(CLI::App& command, BodyCheckOptions& options);
/// Sets the verifier's schemas and unknown-event policy from `options`; throws tykhook::Error
/// when the --schemas directory cannot be loaded.
/// Returns, when a --schemas directory lacks some events' files, a note naming them (they keep
/// their built-in schemas), for standard error.
[[nodiscard]] std::optional<std::string> apply_body_check_options(const BodyCheckOptions& options,
                                                                  VerifierOptions& verifier);

/// The note of apply_body_check_options for `schemas`, loaded from `dir`.
[[nodiscard]] std::optional<std::string> built_in_note(const SchemaRegistry& schemas,
                                                       const std::string& dir);

/// The options of `tykhook verify`.
struct VerifyOptions {
  SecretOptions secrets;
  std::vector<std::string> captures;
  std::string signature;
  std::string tolerance;
  std::string max_future;
  std::string now;
  BodyCheckOptions checks;
  std::size_t max_body = default_max_body;
  std::string store;
  std::string format = "text";
  bool explain = false;  ///< every likely cause of a signature failure, not only the quick ones
};

/// The options of `tykhook sign`.
struct SignOptions {
  SecretOptions secrets;
  std::string body = "-";
  bool hex = false;
  std::string request_url;
};

/// Adds `tykhook verify` to `app`.
CLI::App* add_verify(CLI::App& app, VerifyOptions& options);
/// Runs `tykhook verify`; returns the exit status.
int run_verify(const VerifyOptions& options);

/// Adds `tykhook sign` to `app`.
CLI::App* add_sign(CLI::App& app, SignOptions& options);
/// Runs `tykhook sign`; returns the exit status.
int run_sign(const SignOptions& options);

/// What `tykhook schema` does: list the events, show one schema, or validate bare bodies.
enum class SchemaAction { list, show, validate };

/// The options of `tykhook schema`.
struct SchemaOptions {
  SchemaAction action = SchemaAction::list;
  std::string event;                ///< for show: a wire name or an alias
  std::vector<std::string> bodies;  ///< for validate: body files; none or - is standard input
  std::string schemas_dir;
  std::string format = "text";
};

/// The options of `tykhook example`.
struct ExampleOptions {
  std::string event;             ///< a wire name or an alias
  bool fresh_timestamp = false;  ///< --fresh-timestamp: Timestamp becomes the current time
};

/// Adds `tykhook schema` (list, show, validate) to `app`.
CLI::App* add_schema(CLI::App& app, SchemaOptions& options);
/// Runs `tykhook schema`; returns the exit status.
int run_schema(const SchemaOptions& options);

/// Adds `tykhook example` to `app`.
CLI::App* add_example(CLI::App& app, ExampleOptions& options);
/// Runs `tykhook example`; returns the exit status.
int run_example(const ExampleOptions& options);

/// The options of `tykhook listen`.
struct ListenOptions {
  SecretOptions secrets;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string tolerance = "5m";
  std::string max_future;
  std::string store = "sqlite:tykhook.db";
  std::string capture_dir;
  bool reject_invalid = false;
  std::size_t max_body = default_max_body;
  std::string require_header;
  bool quiet = false;
  std::string log_format = "text";
  std::size_t threads = 32;
  BodyCheckOptions checks;
  DeliveryOptions delivery;
  bool ui = false;
  std::string ui_token_file;
  std::size_t ui_keep = 1000;
};

/// The options of `tykhook send`.
struct SendOptions {
  SecretOptions secrets;
  std::string to;
  std::string event;
  std::string body;
  bool all = false;
  std::string method = "POST";
  std::vector<std::string> headers;
  std::string timeout = "10s";
};

/// Adds `tykhook listen` to `app`.
CLI::App* add_listen(CLI::App& app, ListenOptions& options);
/// Runs `tykhook listen` until SIGINT or SIGTERM; returns the exit status.
int run_listen(const ListenOptions& options);

/// Adds `tykhook send` to `app`.
CLI::App* add_send(CLI::App& app, SendOptions& options);
/// Runs `tykhook send`; returns the exit status.
int run_send(const SendOptions& options);

/// The options of `tykhook replay`.
struct ReplayOptions {
  SecretOptions secrets;
  std::vector<std::string> captures;  ///< capture files or directories; - is standard input
  std::string to;
  bool resign = false;           ///< --resign: sign with the first configured secret
  bool fresh_timestamp = false;  ///< --fresh-timestamp: Timestamp becomes now, then re-signed
  std::vector<std::string> headers;
  std::string timeout = "10s";
  std::string format = "text";
};

/// Adds `tykhook replay` to `app`.
CLI::App* add_replay(CLI::App& app, ReplayOptions& options);
/// Runs `tykhook replay`; returns the exit status.
int run_replay(const ReplayOptions& options);

/// The options of `tykhook probe`.
struct ProbeOptions {
  SecretOptions secrets;
  std::string url;
  std::string event = "UserRegistered";  ///< whose sample is delivered
  std::string method = "POST";
  std::vector<std::string> headers;
  std::string timeout = "10s";  ///< the webhook's timeout in the portal
  std::string ca_file;          ///< --cacert: trust these CAs for https instead of the system's
  std::string format = "text";
};

/// Adds `tykhook probe` to `app`.
CLI::App* add_probe(CLI::App& app, ProbeOptions& options);
/// Runs `tykhook probe`; returns the exit status.
int run_probe(const ProbeOptions& options);

/// The options of `tykhook work`.
struct WorkOptions {
  std::string store;
  DeliveryOptions delivery;
  bool quiet = false;
  std::string log_format = "text";
  std::string secret_env = "PORTAL_WEBHOOKS_SECRET";  ///< hidden from --exec commands
};

/// Adds `tykhook work` to `app`.
CLI::App* add_work(CLI::App& app, WorkOptions& options);
/// Runs `tykhook work` until SIGINT or SIGTERM; returns the exit status.
int run_work(const WorkOptions& options);

/// What `tykhook queue` does.
enum class QueueAction { list, show, retry, drop, export_captures };

/// The options of `tykhook queue`.
struct QueueOptions {
  QueueAction action = QueueAction::list;
  std::string store;
  std::string state;  ///< list: empty for every state
  std::size_t limit = 1000;
  std::string format = "text";
  std::vector<std::string> keys;
  bool dead = false;       ///< retry --dead
  std::string output_dir;  ///< export --output-dir
};

/// Adds `tykhook queue` (list, show, retry, drop, export) to `app`.
CLI::App* add_queue(CLI::App& app, QueueOptions& options);
/// Runs `tykhook queue`; returns the exit status.
int run_queue(const QueueOptions& options);

/// The options of `tykhook secret fingerprint`.
struct SecretCommandOptions {
  SecretOptions secrets;
  std::string format = "text";
};

/// Adds `tykhook secret` (fingerprint) to `app`.
CLI::App* add_secret(CLI::App& app, SecretCommandOptions& options);
/// Runs `tykhook secret fingerprint`; returns the exit status: 0, or 2 when a secret could not
/// be loaded.
int run_secret(const SecretCommandOptions& options);

/// A CLI11 check that accepts an event's wire name or alias; its error lists every name.
[[nodiscard]] CLI::Validator event_check();

/// A CLI11 check that accepts a DURATION (`300s`, `5m`, `1h`, `250ms`; bare = seconds).
[[nodiscard]] CLI::Validator duration_check();

/// Adds the options of a command that sends requests: --header "NAME: VALUE" (repeatable) and
/// --timeout DURATION, each with its help text.
void add_request_options(
    CLI::App& command, std::vector<std::string>& headers, std::string& timeout,
    const std::string& header_help =
        "Extra header, as the webhook's custom headers "
        "(repeatable), e.g. \"X-Portal-Token: s3cr3t\"",
    const std::string& timeout_help =
        "Longest wait to connect, and for each read and write, e.g. 10s, 500ms");

/// A CLI11 check that accepts a DURATION or `off`, for --tolerance.
[[nodiscard]] CLI::Validator tolerance_check();

/// The tolerance that a --tolerance value names: none for `off` or no value.
[[nodiscard]] std::optional<std::chrono::milliseconds> tolerance_of(const std::string& text);

/// Adds --max-future DURATION to `command`: a bound for a Timestamp ahead of `reference` (the
/// reference time's name in --help), apart from --tolerance; empty means the tolerance.
void add_max_future_option(CLI::App& command, std::string& max_future, std::string_view reference);
/// A CLI11 check that accepts an RFC 3339 time.
[[nodiscard]] CLI::Validator rfc3339_check();

}  // namespace tykhook::cli
