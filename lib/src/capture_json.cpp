#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "base64.h"
#include "capture_formats.h"
#include "tykhook/capture.h"
#include "tykhook/timestamp.h"

// The tykhook JSON capture, version 1: one object with, in this order, "tykhook_capture": 1,
// "received" (RFC 3339), "method", "target", "headers" as [name, value] pairs in arrival
// order, and "body_base64" (standard base64 with padding). Each member gets its own line and
// each header pair too, so that a capture reads well in a text editor. The reader requires
// all but "received" and ignores members it does not know. The body is exact; header bytes
// that are not UTF-8 (legal in HTTP, not in JSON) are written as U+FFFD.

namespace tykhook {
namespace {

using detail::capture_marker;
using detail::encode_base64;
using Json = nlohmann::json;

/// The version of the format that this code reads and writes.
constexpr int capture_version = 1;

/// JSON string of `text`; invalid UTF-8 becomes U+FFFD rather than an exception.
std::string json_string(std::string_view text) {
  return Json(std::string(text)).dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

namespace detail {

std::string describe(Json::value_t type) {
  switch (type) {
    case Json::value_t::string:
      return "a string";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return "a number";
    case Json::value_t::binary:
    case Json::value_t::discarded:
      return "a value";
  }
  return "a value";
}

namespace {

/// The request of a tykhook JSON capture: every member but "received".
Parsed<Request> read_request(const Json& document, const JsonFields& fields) {
  using Result = Parsed<Request>;
  const Json& marker = *document.find(capture_marker);
  if (!marker.is_number_integer() || marker.get<std::int64_t>() != capture_version) {
    const std::string got =
        marker.is_number_integer() ? "version " + marker.dump() : describe(marker.type());
    return Result::failure(fields.error(capture_marker, got + " is not supported; this tykhook "
                                                              "reads version 1"));
  }
  Request request;
  auto method = fields.method(document, "method", "method");
  if (!method) return Result::failure(std::move(method.error));
  request.method = std::move(*method);
  auto target_text =
      fields.string(document, "target", "target", "give the request target, e.g. \"/hook\"");
  if (!target_text) return Result::failure(std::move(target_text.error));
  auto target = fields.target(std::move(*target_text), "target");
  if (!target) return Result::failure(std::move(target.error));
  request.target = std::move(*target);

  const std::string headers_how = "give the headers as [[\"Name\", \"value\"], ...]";
  const auto headers =
      fields.typed(document, "headers", "headers", Json::value_t::array, headers_how);
  if (!headers) return Result::failure(headers.error);
  for (std::size_t i = 0; i < (*headers)->size(); ++i) {
    const Json& pair = (**headers)[i];
    const std::string path = "headers[" + std::to_string(i) + "]";
    if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string()) {
      return Result::failure(
          fields.error(path, "expected a [name, value] pair of strings; " + headers_how));
    }
    auto header = fields.header(pair[0].get<std::string>(), pair[1].get<std::string>(), path);
    if (!header) return Result::failure(std::move(header.error));
    request.headers.push_back(std::move(*header));
  }

  auto body = fields.string(document, "body_base64", "body_base64",
                            "give the body in standard base64, \"\" for an empty body");
  if (!body) return Result::failure(std::move(body.error));
  auto bytes = decode_base64(*body);
  if (!bytes) return Result::failure(fields.error("body_base64", bytes.error));
  request.body = std::move(*bytes);
  return {std::move(request), {}};
}

}  // namespace

Capture read_json_capture(const Json& document, std::string_view input) {
  const JsonFields fields(input);
  Capture capture{std::string(input), read_request(document, fields)};
  // "received" records when the request arrived (`verify --now received` checks the
  // Timestamp against it). It may be left out, but a present one must be a valid time so that
  // the format stays one format.
  if (!capture.request || !document.contains("received")) return capture;
  auto received = fields.string(document, "received", "received",
                                "give an RFC 3339 time, e.g. \"2024-04-24T15:26:04Z\"");
  if (!received) {
    capture.request = Parsed<Request>::failure(std::move(received.error));
    return capture;
  }
  auto time = parse_rfc3339(*received);
  if (!time) {
    capture.request = Parsed<Request>::failure(fields.error("received", time.error));
    return capture;
  }
  capture.received = *time;
  return capture;
}

}  // namespace detail

std::string write_json_capture(const Request& request, TimePoint received) {
  std::string out = "{\n";
  out += "  \"" + std::string(capture_marker) + "\": " + std::to_string(capture_version) + ",\n";
  out += "  \"received\": " + json_string(format_rfc3339(received)) + ",\n";
  out += "  \"method\": " + json_string(request.method) + ",\n";
  out += "  \"target\": " + json_string(request.target) + ",\n";
  out += "  \"headers\": [";
  for (std::size_t i = 0; i < request.headers.size(); ++i) {
    out += i == 0 ? "\n" : ",\n";
    out += "    [" + json_string(request.headers[i].name) + ", " +
           json_string(request.headers[i].value) + "]";
  }
  out += request.headers.empty() ? "],\n" : "\n  ],\n";
  out += "  \"body_base64\": \"" + encode_base64(request.body) + "\"\n";
  out += "}\n";
  return out;
}

}  // namespace tykhook
