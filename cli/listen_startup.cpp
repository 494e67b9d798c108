#include "listen_startup.h"

#include <filesystem>
#include <iostream>

#include "request_log.h"
#include "tykhook/request.h"
#include "tykhook/timestamp.h"

namespace tykhook::cli {
namespace {

namespace fs = std::filesystem;

std::string now_text() {
  return time_text(std::chrono::time_point_cast<std::chrono::nanoseconds>(Clock::now()));
}

// Whether `uri` starts with `scheme` (with its colon) in any case, as open_store takes it; the
// comparison is the ASCII one of header names.
bool has_scheme(std::string_view uri, std::string_view scheme) {
  return header_name_equals(uri.substr(0, scheme.size()), scheme);
}

// The file of a `sqlite:PATH` store; empty for the other stores.
std::string sqlite_path(const std::string& uri) {
  return has_scheme(uri, "sqlite:") ? uri.substr(7) : std::string();
}

// `path` made absolute, for a reader of the log who does not know the working directory.
std::string absolute_path(const std::string& path) {
  std::error_code error;
  const fs::path absolute = fs::absolute(path, error);
  return error ? path : absolute.lexically_normal().string();
}

// " (ABSOLUTE PATH, created)" after a relative path or a file the receiver created; "" for an
// absolute path that existed.
std::string where_and_whether_created(const std::string& path, bool existed) {
  std::string text;
  if (!fs::path(path).is_absolute()) text = loggable(absolute_path(path), 1000, true);
  if (!existed) text += text.empty() ? "created" : ", created";
  return text.empty() ? text : " (" + text + ")";
}

void secrets_line(const StartupLines& lines, const SecretOptions& from, std::size_t count) {
  std::string sources;
  const auto add = [&sources](std::size_t n, const std::string& option) {
    if (n == 0) return;
    if (!sources.empty()) sources += " and ";
    sources += option + (n > 1 ? " (" + std::to_string(n) + ")" : "");
  };
  add(from.files.size(), "--secret-file");
  add(from.values.size(), "--secret");
  const bool from_env = sources.empty();
  if (from_env) sources = "$" + from.env;
  lines.say({{"secrets", count},
             {"secret_files", from.files.size()},
             {"secret_options", from.values.size()},
             {"secret_env", from_env ? nlohmann::ordered_json(from.env) : nullptr}},
            "secrets: " + std::to_string(count) + ", from " + sources);
}

void store_line(const StartupLines& lines, const ListenOptions& options, bool existed,
                std::chrono::milliseconds ttl, bool queue) {
  const std::string kept_for =
      format_duration(static_cast<std::uint64_t>(std::chrono::nanoseconds(ttl).count()));
  const std::string path = sqlite_path(options.store);
  const bool memory = has_scheme(options.store, "memory:");
  std::string where;
  std::string keeps = "idempotency keys for " + kept_for;
  if (!path.empty()) {
    where = where_and_whether_created(path, existed);
    keeps += ", on disk";
  } else if (memory) {
    keeps += " in this process's memory, lost when it exits";
  } else {
    keeps += ", shared by every receiver that uses it";
  }
  if (queue) keeps += ", and the queue of deliveries to hand on";
  // On Redis, what survives a restart of the server is the server's to say.
  if (has_scheme(options.store, "redis:")) {
    keeps += "; as durable as the server's persistence (appendonly yes keeps every write)";
  }
  nlohmann::ordered_json fields = {{"store", options.store}};
  fields["path"] = path.empty() ? nullptr : nlohmann::ordered_json(absolute_path(path));
  fields["created"] = !path.empty() && !existed;
  fields["keeps"] = keeps;
  lines.say(std::move(fields),
            "store: " + loggable(options.store, 1000, true) + where + ": " + keeps);
}

void capture_line(const StartupLines& lines, const ListenOptions& options, bool existed) {
  if (options.capture_dir.empty()) {
    lines.say({{"capture_dir", nullptr}}, "capture directory: none (no --capture-dir)");
    return;
  }
  lines.say({{"capture_dir", options.capture_dir},
             {"path", absolute_path(options.capture_dir)},
             {"created", !existed}},
            "capture directory: " + loggable(options.capture_dir, 1000, true) +
                where_and_whether_created(options.capture_dir, existed) +
                ": each authentic delivery, its exact request, written before it is answered");
}

// After the capture directory: the capture files that an interrupted run left unfinished and
// that the receiver recovered or removed when it started, when there were any.
void recovery_line(const StartupLines& lines, const ListenOptions& options,
                   const CaptureRecovery& found) {
  if (found.recovered + found.removed == 0) return;
  lines.say({{"capture_dir", options.capture_dir},
             {"recovered_captures", found.recovered},
             {"removed_captures", found.removed}},
            loggable(options.capture_dir, 1000, true) +
                ": capture files left unfinished by an interrupted run: " +
                std::to_string(found.recovered) +
                " whole, now named as captures (never answered: the portal will not send them "
                "again), " +
                std::to_string(found.removed) + " incomplete, removed");
}

// The last start-up line: whether an authentic delivery outlives its answer (DESIGN.md: the
// portal never sends it again).
void kept_line(const StartupLines& lines, const ListenOptions& options, const Target* target) {
  if (!options.capture_dir.empty()) {
    const std::string text = "every authentic delivery, as a file in " +
                             loggable(options.capture_dir, 1000, true) + " before its answer";
    lines.say({{"deliveries_kept", true}, {"note", text}}, "kept: " + text);
    return;
  }
  if (target) {
    const bool memory = has_scheme(options.store, "memory:");
    const std::string text =
        std::string(
            "every ok delivery, its exact request, in the store's queue before its "
            "answer") +
        (memory ? " (in memory: lost when this process exits)" : "") + ", until " +
        target->describe() +
        " takes it (tykhook queue list shows them); add --capture-dir DIR to keep the authentic "
        "deliveries that fail a check too";
    lines.say({{"deliveries_kept", !memory}, {"note", text}}, "kept: " + text);
    return;
  }
  const std::string text =
      "the deliveries themselves: each authentic one is answered and then gone (the store keeps "
      "only its idempotency key); add --forward-to URL or --exec COMMAND to hand them on, or "
      "--capture-dir DIR to keep every one";
  lines.say({{"deliveries_kept", false}, {"note", text}}, "not kept: " + text);
}

}  // namespace

void StartupLines::listening(const std::string& url) const {
  if (json_) {
    say({{"listening", url}}, {});
  } else {
    std::cerr << "tykhook listening on " << url << std::endl;
  }
}

void StartupLines::say(nlohmann::ordered_json fields, std::string_view text) const {
  if (!json_) {
    std::cerr << "tykhook " << command_ << ": " << text << std::endl;
    return;
  }
  nlohmann::ordered_json line = {{"time", now_text()}};
  for (auto& [name, value] : fields.items()) line[name] = std::move(value);
  std::cerr << line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
            << std::endl;
}

void StartupLines::warning(std::string_view message) const {
  say({{"warning", "tykhook " + command_ + ": " + std::string(message)}},
      "warning: " + std::string(message));
}

void StartupLines::error(std::string_view message) const {
  say({{"error", "tykhook " + command_ + ": " + std::string(message)}}, message);
}

FilesBefore look_before(const ListenOptions& options) {
  std::error_code error;
  FilesBefore before;
  if (const std::string path = sqlite_path(options.store); !path.empty()) {
    before.store_file = fs::exists(path, error);
  }
  if (!options.capture_dir.empty()) before.capture_dir = fs::exists(options.capture_dir, error);
  return before;
}

void describe_keeping(const StartupLines& lines, const ListenOptions& options,
                      const FilesBefore& before, std::size_t secrets,
                      std::chrono::milliseconds store_ttl, const CaptureRecovery& recovery,
                      const std::optional<std::string>& schemas_note, const Target* target) {
  secrets_line(lines, options.secrets, secrets);
  store_line(lines, options, before.store_file, store_ttl, target != nullptr);
  capture_line(lines, options, before.capture_dir);
  recovery_line(lines, options, recovery);
  if (schemas_note) lines.say({{"note", *schemas_note}}, *schemas_note);
  if (target) handing_on_line(lines, options.delivery, *target);
  kept_line(lines, options, target);
}

void handing_on_line(const StartupLines& lines, const DeliveryOptions& options,
                     const Target& target) {
  const RetryPolicy policy = retry_policy(options);
  const auto duration = [](std::chrono::milliseconds time) {
    return format_duration(static_cast<std::uint64_t>(std::chrono::nanoseconds(time).count()));
  };
  lines.say({{"hands_on_to", target.describe()},
             {"concurrency", options.concurrency},
             {"retry_base", options.retry_base},
             {"retry_cap", options.retry_cap},
             {"max_attempts", options.max_attempts},
             {"max_age", options.max_age}},
            "hands on: each ok delivery to " + target.describe() + ", " +
                std::to_string(options.concurrency) +
                " at once; a failed attempt is tried again after a random wait of up to " +
                duration(policy.base) + ", doubling to " + duration(policy.cap) + ", until " +
                std::to_string(policy.max_attempts) + " attempts or " + duration(policy.max_age) +
                " (then dead: tykhook queue retry --dead)");
}

void describe_inspector(const StartupLines& lines, const ListenOptions& options,
                        const std::string& url, const std::string& token) {
  const std::string page = url + "/ui/";
  if (options.ui_token_file.empty()) {
    // A notebook server's way: the address to open holds the token, new at each start.
    lines.say({{"inspector", page + "?token=" + token}, {"token_file", nullptr}},
              "inspector: " + page + "?token=" + token +
                  " (open it in a browser; the token is new at each start, --ui-token-file "
                  "keeps one)");
  } else {
    lines.say({{"inspector", page}, {"token_file", options.ui_token_file}},
              "inspector: " + page + " (open it with ?token= and the content of " +
                  loggable(options.ui_token_file, 1000, true) + ")");
  }
  const bool loopback = options.host == "127.0.0.1" || options.host == "::1" ||
                        options.host == "localhost" || options.host.starts_with("127.");
  if (!loopback) {
    lines.warning("--ui on " + options.host +
                  ": other machines can open the inspector, which shows users' personal data, "
                  "and its token travels unencrypted; keep --host 127.0.0.1, or put a TLS proxy "
                  "in front");
  }
}

}  // namespace tykhook::cli
