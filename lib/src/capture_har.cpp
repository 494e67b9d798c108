#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base64.h"
#include "capture_formats.h"
#include "tykhook/capture.h"
#include "tykhook/timestamp.h"

// A HAR 1.2 file (as browsers and proxies export it) as captures: one per entry of
// log.entries, its request only.

namespace tykhook::detail {
namespace {

using Json = nlohmann::json;

/// Returns the path and query of a HAR request URL ("https://host/p?q#f" -> "/p?q"); an
/// absolute path is taken as it is.
std::optional<std::string> target_of_url(std::string_view url) {
  url = url.substr(0, url.find('#'));
  if (url.starts_with("/")) return std::string(url);
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) return std::nullopt;
  const auto path = url.find_first_of("/?", scheme_end + 3);
  if (path == std::string_view::npos) return std::string("/");
  if (url[path] == '?') return "/" + std::string(url.substr(path));
  return std::string(url.substr(path));
}

/// Reads log.entries[index].request of a HAR 1.2 file.
Parsed<Request> read_har_entry(const Json& entry, std::size_t index, std::string_view input) {
  using Result = Parsed<Request>;
  const JsonFields fields(input);
  const std::string path = "log.entries[" + std::to_string(index) + "]";
  if (!entry.is_object()) {
    return Result::failure(fields.error(path, std::string("expected an object, got ") +
                                                  describe(entry.type()) +
                                                  "; each entry is an object"));
  }
  const std::string at = path + ".request";
  const auto har_request =
      fields.typed(entry, "request", at, Json::value_t::object, "each entry needs its request");
  if (!har_request) return Result::failure(har_request.error);
  const Json& source = **har_request;

  Request request;
  auto method = fields.method(source, "method", at + ".method");
  if (!method) return Result::failure(std::move(method.error));
  request.method = std::move(*method);
  auto url = fields.string(source, "url", at + ".url", "give the request's URL");
  if (!url) return Result::failure(std::move(url.error));
  auto target = target_of_url(*url);
  if (!target) {
    return Result::failure(fields.error(
        at + ".url",
        quote_input(*url) + " is not an absolute URL; expected e.g. \"https://host/hook\""));
  }
  auto checked_target = fields.target(std::move(*target), at + ".url");
  if (!checked_target) return Result::failure(std::move(checked_target.error));
  request.target = std::move(*checked_target);

  const std::string headers_how = "give the headers as [{\"name\": ..., \"value\": ...}, ...]";
  const auto headers =
      fields.typed(source, "headers", at + ".headers", Json::value_t::array, headers_how);
  if (!headers) return Result::failure(headers.error);
  for (std::size_t i = 0; i < (*headers)->size(); ++i) {
    const Json& pair = (**headers)[i];
    const std::string header_path = at + ".headers[" + std::to_string(i) + "]";
    if (!pair.is_object()) {
      return Result::failure(fields.error(header_path, "expected an object; " + headers_how));
    }
    auto name = fields.string(pair, "name", header_path + ".name", headers_how);
    if (!name) return Result::failure(std::move(name.error));
    auto value = fields.string(pair, "value", header_path + ".value", headers_how);
    if (!value) return Result::failure(std::move(value.error));
    // HTTP/2 pseudo-headers (":path", ":authority") are not header fields of the request.
    if (name->starts_with(":")) continue;
    auto header = fields.header(std::move(*name), std::move(*value), header_path);
    if (!header) return Result::failure(std::move(header.error));
    request.headers.push_back(std::move(*header));
  }

  // DESIGN.md, "CLI contract": an entry without postData has an empty body.
  if (source.contains("postData")) {
    const std::string post = at + ".postData";
    const auto post_data =
        fields.typed(source, "postData", post, Json::value_t::object, "give the body as an object");
    if (!post_data) return Result::failure(post_data.error);
    auto text = fields.string(**post_data, "text", post + ".text", "give the body as a string");
    if (!text) return Result::failure(std::move(text.error));
    std::string encoding;
    if ((*post_data)->contains("encoding")) {
      auto given = fields.string(**post_data, "encoding", post + ".encoding",
                                 "leave it out, or give \"base64\"");
      if (!given) return Result::failure(std::move(given.error));
      encoding = std::move(*given);
    }
    if (encoding == "base64") {
      auto bytes = decode_base64(*text);
      if (!bytes) return Result::failure(fields.error(post + ".text", bytes.error));
      request.body = std::move(*bytes);
    } else if (encoding.empty()) {
      request.body = std::move(*text);
    } else {
      return Result::failure(fields.error(post + ".encoding", quote_input(encoding) +
                                                                  " is not supported; expected "
                                                                  "\"base64\" or no encoding"));
    }
  }
  return {std::move(request), {}};
}

/// When the entry's request was sent (its startedDateTime), if that reads as an RFC 3339 time.
/// HAR asks for ISO 8601, which allows more spellings; a time that does not read is no reason
/// to refuse the request, whose verdict does not depend on it: the entry then records no time.
std::optional<TimePoint> started_time(const Json& entry) {
  if (!entry.is_object()) return std::nullopt;
  const auto started = entry.find("startedDateTime");
  if (started == entry.end() || !started->is_string()) return std::nullopt;
  return parse_rfc3339(started->get_ref<const std::string&>()).value;
}

}  // namespace

std::vector<Capture> read_har(const Json& document, std::string_view input) {
  const JsonFields fields(input);
  const auto whole = [&](std::string message) {
    return std::vector<Capture>{{std::string(input), Parsed<Request>::failure(std::move(message))}};
  };
  const auto log = fields.typed(document, "log", "log", Json::value_t::object,
                                "a HAR file holds {\"log\": {\"entries\": [...]}}");
  if (!log) return whole(log.error);
  const auto entries = fields.typed(**log, "entries", "log.entries", Json::value_t::array,
                                    "a HAR file lists its requests in log.entries");
  if (!entries) return whole(entries.error);
  if ((*entries)->empty()) {
    return whole(fields.error("log.entries",
                              "no entries; export a HAR file with at least one "
                              "request"));
  }
  std::vector<Capture> captures;
  captures.reserve((*entries)->size());
  for (std::size_t i = 0; i < (*entries)->size(); ++i) {
    const std::string name = std::string(input) + "#" + std::to_string(i);
    const Json& entry = (**entries)[i];
    captures.push_back({name, read_har_entry(entry, i, name), started_time(entry)});
  }
  return captures;
}

}  // namespace tykhook::detail
