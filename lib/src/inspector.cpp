#include "inspector.h"

#include <httplib.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <stdexcept>

#include "embedded_schemas.h"
#include "inspector_views.h"
#include "sha256.h"
#include "tykhook/error.h"

namespace tykhook::detail {

namespace {

using nlohmann::ordered_json;

constexpr std::string_view cookie_name = "tykhook_ui";
constexpr std::string_view api_prefix = "/ui/api/deliveries";

// What every answer of the inspector carries: it shows personal data, so nothing is cached,
// framed, sniffed or sent on as a referrer, and the page runs only its own script.
const std::vector<Header>& guard_headers() {
  static const std::vector<Header> headers = {
      {"Content-Security-Policy",
       "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
      {"Cache-Control", "no-store"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"}};
  return headers;
}

Answer text_answer(int status, std::string content_type, std::string body) {
  Answer answer;
  answer.response.status = status;
  answer.response.content_type = std::move(content_type);
  answer.response.body = std::move(body);
  return answer;
}

Answer json_answer(int status, const ordered_json& json) {
  return text_answer(status, "application/json", dump(json));
}

Answer json_error(int status, std::string error) {
  return json_answer(status, {{"error", std::move(error)}});
}

// The page a browser gets without the token: how to get in, and nothing else.
const std::string& signed_out_page() {
  static const std::string page =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>tykhook inspector: not signed in</title><link rel=\"icon\" href=\"data:,\">"
      "<link rel=\"stylesheet\" href=\"/ui/app.css\"></head>\n<body><main class=\"signed-out\">"
      "<h1>Not signed in</h1><p>This page shows the deliveries this receiver got, so it needs "
      "its token. Open the address that <code>tykhook listen --ui</code> printed when it "
      "started (the line <code>tykhook listen: inspector: http://&hellip;/ui/?token=&hellip;"
      "</code>), or, with <code>--ui-token-file</code>, add <code>?token=</code> and the "
      "file's content to this address.</p></main></body></html>\n";
  return page;
}

std::string content_type_of(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  if (name.ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

const EmbeddedFile* asset(std::string_view name) {
  for (const EmbeddedFile& file : embedded_ui()) {
    if (file.name == name) return &file;
  }
  return nullptr;
}

bool url_safe(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.' ||
           c == '~';
  });
}

// The value of cookie `name` in the Cookie headers of `head`.
std::optional<std::string_view> cookie(const Head& head, std::string_view name) {
  for (std::string_view line : head.values("Cookie")) {
    while (!line.empty()) {
      const auto end = line.find(';');
      std::string_view pair = line.substr(0, end);
      line = end == std::string_view::npos ? std::string_view{} : line.substr(end + 1);
      while (pair.starts_with(' ')) pair.remove_prefix(1);
      if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=') {
        return pair.substr(name.size() + 1);
      }
    }
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parse_id(std::string_view text) {
  std::uint64_t id = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (error != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return id;
}

bool is_key(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

bool is_inspector_path(std::string_view path) { return path == "/ui" || path.starts_with("/ui/"); }

// One request to the inspector: its path and query decoded, and how it proved the token.
struct Inspector::Call {
  const Head& head;
  std::string path;
  httplib::Params query;
  bool bearer = false;  // Authorization: Bearer with the token
  bool cookie = false;  // the page's cookie with the token
};

Inspector::Inspector(const InspectorOptions& options, Receiving receiving)
    : receiving_(std::move(receiving)), log_(options.keep, options.max_bytes) {
  if (options.token.size() < 16 || !url_safe(options.token)) {
    throw std::invalid_argument(
        "tykhook::Receiver: the inspector's token must be at least 16 characters of letters, "
        "digits, '-', '_', '.' or '~'");
  }
  token_digest_ = sha256(options.token, "inspector token: SHA-256 failed in the crypto library");
}

bool Inspector::token_matches(std::string_view given) const {
  // Digests of equal length, compared in constant time: neither the token nor its length can be
  // learnt from the time an answer takes.
  const Digest digest = sha256(given, "inspector token: SHA-256 failed in the crypto library");
  return CRYPTO_memcmp(digest.data(), token_digest_.data(), digest.size()) == 0;
}

Answer Inspector::answer(const Head& head, TimePoint now) {
  const std::string_view target = head.target;
  const auto question = target.find('?');
  Call call{.head = head,
            .path = httplib::detail::decode_url(std::string(target.substr(0, question)), false)};
  if (question != std::string_view::npos) {
    httplib::detail::parse_query_text(std::string(target.substr(question + 1)), call.query);
  }
  for (std::string_view value : head.values("Authorization")) {
    const bool bearer = value.size() > 7 && header_name_equals(value.substr(0, 7), "Bearer ");
    if (bearer && token_matches(value.substr(7))) call.bearer = true;
  }
  if (const auto given = cookie(head, cookie_name)) call.cookie = token_matches(*given);

  Answer answer = call.path.starts_with("/ui/api/") ? api(call, now) : page(call);
  for (const Header& header : guard_headers()) answer.response.headers.push_back(header);
  return answer;
}

Answer Inspector::page(const Call& call) const {
  if (call.head.method != "GET") {
    Answer answer = json_error(405, call.head.method + " is not served here; the page is GET");
    answer.response.headers.push_back({"Allow", "GET"});
    return answer;
  }
  if (call.path == "/ui") {
    Answer answer = text_answer(308, "text/plain; charset=utf-8", "the page is at /ui/\n");
    answer.response.headers.push_back({"Location", "/ui/"});
    return answer;
  }
  if (call.path != "/ui/") {
    const std::string_view name = std::string_view(call.path).substr(4);
    const EmbeddedFile* file = name == "index.html" ? nullptr : asset(name);
    if (file == nullptr) return json_error(404, "not found; the page is at /ui/");
    return text_answer(200, content_type_of(name), std::string(file->text));
  }
  if (const auto token = call.query.find("token"); token != call.query.end()) {
    if (!token_matches(token->second)) return text_answer(401, "text/html", signed_out_page());
    // The token leaves the address bar (and the history) for a cookie that the page's script
    // cannot read and that no other site's request carries.
    Answer answer = text_answer(303, "text/plain; charset=utf-8", "signed in; go to /ui/\n");
    answer.response.headers.push_back({"Location", "/ui/"});
    answer.response.headers.push_back({"Set-Cookie", std::string(cookie_name) + "=" +
                                                         token->second +
                                                         "; Path=/ui/; HttpOnly; SameSite=Strict"});
    return answer;
  }
  if (!call.cookie && !call.bearer) return text_answer(401, "text/html", signed_out_page());
  const EmbeddedFile* index = asset("index.html");
  if (index == nullptr) return json_error(500, "the page is missing from this build");
  return text_answer(200, "text/html; charset=utf-8", std::string(index->text));
}

Answer Inspector::api(const Call& call, TimePoint now) {
  if (!call.bearer && !call.cookie) {
    return json_error(401,
                      "the inspector needs its token: send \"Authorization: Bearer TOKEN\" (the "
                      "token that tykhook listen printed, or the content of --ui-token-file)");
  }
  const std::string& method = call.head.method;
  if (method == "POST") {
    // A request another site's page makes carries its own origin; one from a script outside any
    // browser carries none, and proves the token itself.
    const auto origins = call.head.values("Origin");
    const auto hosts = call.head.values("Host");
    const std::string host = hosts.size() == 1 ? std::string(hosts.front()) : std::string();
    if (origins.empty()
            ? !call.bearer
            : (origins.size() != 1 || host.empty() ||
               (origins.front() != "http://" + host && origins.front() != "https://" + host))) {
      return json_error(403,
                        "the request's Origin is not this receiver's; the inspector's changes are "
                        "made from its own page, or by a script with the token");
    }
  }
  if (call.path == "/ui/api/activity") {
    if (method != "GET") return json_error(405, method + " is not served here; use GET");
    return activity(now);
  }
  if (call.path == api_prefix) {
    if (method != "GET") return json_error(405, method + " is not served here; use GET");
    return list(call);
  }
  if (!call.path.starts_with(std::string(api_prefix) + "/")) {
    return json_error(404, "not found; the endpoints are under /ui/api/deliveries");
  }
  // /ui/api/deliveries/ID[/capture|/retry]
  std::string_view rest = std::string_view(call.path).substr(api_prefix.size() + 1);
  const auto slash = rest.find('/');
  const std::string_view id = rest.substr(0, slash);
  const std::string_view action =
      slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
  DeliveryLog::Kept delivery;
  if (const auto number = parse_id(id)) {
    delivery = log_.find(*number);
  } else if (is_key(id)) {
    delivery = log_.find_key(id);
  }
  if (action != "" && action != "capture" && action != "retry") {
    return json_error(404, "not found; a delivery has /capture and /retry");
  }
  const std::string wanted = action == "retry" ? "POST" : "GET";
  if (method != wanted) return json_error(405, method + " is not served here; use " + wanted);
  if (!delivery) {
    return json_error(404, "no kept delivery " + std::string(id) +
                               "; the inspector keeps the recent ones, by id or key");
  }
  if (action == "capture") return capture(delivery);
  if (action == "retry") return retry(delivery, now);
  return one(delivery);
}

Answer Inspector::list(const Call& call) const {
  DeliveryFilter filter;
  const auto number = [&](const char* name) -> std::optional<std::uint64_t> {
    const auto found = call.query.find(name);
    if (found == call.query.end()) return std::nullopt;
    return parse_id(found->second);
  };
  if (call.query.count("limit") != 0) {
    const auto limit = number("limit");
    if (!limit || *limit < 1 || *limit > 1000) {
      return json_error(400, "limit: give a number from 1 to 1000");
    }
    filter.limit = *limit;
  }
  if (call.query.count("after") != 0) {
    const auto after = number("after");
    if (!after) return json_error(400, "after: give a delivery's id, a number");
    filter.after = *after;
  }
  if (const auto verdict = call.query.find("verdict"); verdict != call.query.end()) {
    filter.verdict = verdict->second;
  }
  if (const auto event = call.query.find("event"); event != call.query.end()) {
    filter.event = event->second;
  }
  const DeliveryLog::Page page = log_.recent(filter);
  ordered_json deliveries = ordered_json::array();
  std::optional<std::string> queue_error;
  for (const auto& delivery : page.deliveries) {
    std::optional<QueueEntry> entry;
    if (delivery->details.queued && receiving_.queue && !queue_error) {
      try {
        entry = receiving_.queue->find(delivery->details.key);
      } catch (const Error& failure) {
        queue_error = failure.what();  // the store is down: the list shows what it has
      }
    }
    deliveries.push_back(delivery_summary(*delivery, entry));
  }
  ordered_json json = {{"deliveries", std::move(deliveries)},
                       {"latest", page.latest},
                       {"kept", page.kept},
                       {"dropped", page.dropped},
                       {"queue", receiving_.queue != nullptr}};
  if (queue_error) json["queue_error"] = *queue_error;
  return json_answer(200, json);
}

Answer Inspector::one(const DeliveryLog::Kept& delivery) const {
  std::optional<QueueEntry> entry;
  if (delivery->details.queued && receiving_.queue) {
    try {
      entry = receiving_.queue->find(delivery->details.key);
    } catch (const Error& failure) {
      return json_error(503, std::string("the queue cannot be read now: ") + failure.what());
    }
  }
  const std::vector<Secret> secrets =
      receiving_.secrets ? receiving_.secrets() : std::vector<Secret>{};
  return json_answer(
      200, delivery_in_full(*delivery, entry, log_.attempts(delivery->details.key), secrets));
}

Answer Inspector::capture(const DeliveryLog::Kept& delivery) const {
  if (!delivery->details.body_read) {
    return json_error(409,
                      "this delivery was refused before its body was read; there is no "
                      "request to capture");
  }
  Answer answer = text_answer(200, "application/json", delivery_capture(*delivery));
  answer.response.headers.push_back(
      {"Content-Disposition",
       "attachment; filename=\"tykhook-delivery-" + std::to_string(delivery->id) + ".json\""});
  return answer;
}

Answer Inspector::retry(const DeliveryLog::Kept& delivery, TimePoint now) {
  if (!receiving_.queue) {
    return json_error(409, "this receiver hands nothing on; start it with --forward-to or --exec");
  }
  if (!delivery->details.queued) {
    return json_error(
        409, "only an ok delivery is in the queue; this one is " + delivery->record.verdict);
  }
  try {
    if (!receiving_.queue->retry(delivery->details.key, now)) {
      return json_error(409, "the delivery is no longer in the queue (its claim expired)");
    }
  } catch (const Error& failure) {
    return json_error(503, std::string("the queue cannot be changed now: ") + failure.what());
  }
  if (receiving_.queued) receiving_.queued();
  return json_answer(200, {{"key", delivery->details.key}, {"state", "pending"}});
}

Answer Inspector::activity(TimePoint now) const {
  return json_answer(200, activity_by_minute(log_.since(now - std::chrono::hours(1)), now));
}

void Inspector::attempted(const AttemptReport& report) {
  log_.attempted(report.entry.key, AttemptNote{.time = report.time,
                                               .attempt = report.entry.attempts,
                                               .outcome = report.record.state,
                                               .error = report.record.error,
                                               .duration = report.duration});
}

}  // namespace tykhook::detail
