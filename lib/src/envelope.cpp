#include "tykhook/envelope.h"

#include <algorithm>
#include <string>
#include <vector>

#include "json_error_text.h"
#include "json_rules.h"

namespace tykhook {
namespace {

using nlohmann::json;

// Thrown out of the parser at the first repeated name in an object (json_rules.h).
struct DuplicateName {
  std::string name;
};

std::string type_name(const json& value) { return std::string(detail::json_type_name(value)); }

EnvelopeResult failure(EnvelopeFailure kind, std::string message) {
  return EnvelopeResult{std::nullopt, kind, std::move(message)};
}

// Strips nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 5: " prefix;
// the byte offset is given separately. The input that the parser quotes is cut short and
// escaped (json_error_text.h): the message stays short and UTF-8 whatever the body holds.
std::string parse_error_reason(const json::parse_error& error) {
  std::string what = detail::json_error_text(error.what());
  const auto colon = what.find(": ");
  return colon == std::string::npos ? what : what.substr(colon + 2);
}

/// Where a string value sits in a body: the bytes between its quotes.
struct Span {
  std::size_t offset = 0;
  std::size_t size = 0;
};

// Finds the string value of the member `name` of the top-level object `body`, without parsing
// it into a tree: `--now` edits the wire bytes in place, and a re-serialised body would lose
// Go's escaping ("\u003c" for '<'). Members of nested objects (Message) are skipped.
std::optional<Span> find_top_level_string(std::string_view body, std::string_view name) {
  int depth = 0;
  bool expect_key = false;
  bool key_matches = false;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c == '"') {
      std::size_t end = i + 1;
      while (end < body.size() && body[end] != '"') end += body[end] == '\\' ? 2 : 1;
      if (end >= body.size()) return std::nullopt;  // an unterminated string
      const std::string_view token = body.substr(i + 1, end - i - 1);
      if (depth == 1 && expect_key) {
        key_matches = token == name;
        expect_key = false;
      } else if (depth == 1 && key_matches) {
        return Span{i + 1, token.size()};
      }
      i = end;
    } else if (c == '{' || c == '[') {
      ++depth;
      if (depth == 1) expect_key = c == '{';
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == ',' && depth == 1) {
      expect_key = true;
      key_matches = false;
    }
  }
  return std::nullopt;
}

}  // namespace

EnvelopeResult parse_envelope(std::string_view body) {
  // A raw NUL is never valid JSON (inside a string it must be escaped), and the parser below
  // would take it for the end of the input and ignore whatever follows.
  if (const auto nul = body.find('\0'); nul != std::string_view::npos) {
    return failure(EnvelopeFailure::malformed_json,
                   "body byte " + std::to_string(nul) +
                       ": NUL byte; JSON allows it only escaped, as \\u0000, inside a string");
  }
  if (const auto at = detail::too_deep_at(body)) {
    return failure(EnvelopeFailure::malformed_json,
                   "body byte " + std::to_string(*at) + ": JSON nests deeper than " +
                       std::to_string(max_json_depth) + " levels; the portal sends flat objects");
  }

  std::vector<detail::MemberNames<std::string>> names;  // per open object
  names.reserve(4);  // the portal nests a few levels: no reallocation moves a set of names
  const json::parser_callback_t check_names = [&names](int, json::parse_event_t event,
                                                       json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        names.emplace_back();
        break;
      case json::parse_event_t::object_end:
        names.pop_back();
        break;
      case json::parse_event_t::key: {
        const auto& name = parsed.get_ref<const std::string&>();
        if (!names.back().add(name)) throw DuplicateName{name};
        break;
      }
      case json::parse_event_t::array_start:
      case json::parse_event_t::array_end:
      case json::parse_event_t::value:
        break;
    }
    return true;
  };

  json document;
  try {
    document = json::parse(body.begin(), body.end(), check_names);
  } catch (const json::parse_error& error) {
    return failure(EnvelopeFailure::malformed_json,
                   "body byte " + std::to_string(error.byte > 0 ? error.byte - 1 : 0) + ": " +
                       parse_error_reason(error) + "; the body must be one JSON object in UTF-8");
  } catch (const DuplicateName& duplicate) {
    return failure(EnvelopeFailure::malformed_json,
                   "body: object member " + detail::quote_json_text(duplicate.name, 40) +
                       " appears twice; names in a JSON object must be unique");
  } catch (const json::exception& error) {
    // Such as "number overflow parsing '1e400'", which quotes the whole number.
    return failure(EnvelopeFailure::malformed_json,
                   "body: " + detail::json_error_text(error.what()) +
                       "; the body must be one JSON object in UTF-8");
  }

  if (!document.is_object()) {
    return failure(
        EnvelopeFailure::invalid_envelope,
        "body: expected an object {Event, Message, Timestamp}, got " + type_name(document));
  }
  const auto member = [&document](std::string_view name) -> const json* {
    const auto it = document.find(name);
    return it == document.end() ? nullptr : &*it;
  };
  const auto missing_or_mistyped = [](std::string_view name, const json* value,
                                      std::string_view expected) {
    return failure(EnvelopeFailure::invalid_envelope,
                   value == nullptr
                       ? "/" + std::string(name) + ": missing; the body must have Event, " +
                             "Message and Timestamp"
                       : "/" + std::string(name) + ": expected " + std::string(expected) +
                             ", got " + type_name(*value));
  };

  const json* event = member(detail::event_member);
  if (event == nullptr || !event->is_string()) {
    return missing_or_mistyped(detail::event_member, event, "string");
  }
  json* message = nullptr;
  if (const auto it = document.find(detail::message_member); it != document.end()) message = &*it;
  if (message == nullptr || !message->is_object()) {
    return missing_or_mistyped(detail::message_member, message, "object");
  }
  const json* timestamp = member(detail::timestamp_member);
  if (timestamp == nullptr || !timestamp->is_string()) {
    return missing_or_mistyped(detail::timestamp_member, timestamp, "string");
  }

  Envelope envelope;
  envelope.timestamp_text = timestamp->get<std::string>();
  auto parsed_time = parse_rfc3339(envelope.timestamp_text);
  if (!parsed_time) {
    return failure(EnvelopeFailure::invalid_envelope, "/Timestamp: " + parsed_time.error);
  }
  envelope.timestamp = *parsed_time;
  envelope.event_name = event->get<std::string>();
  envelope.event = parse_event(envelope.event_name);
  envelope.message = std::move(*message);
  return EnvelopeResult{std::move(envelope), EnvelopeFailure::malformed_json, {}};
}

Parsed<std::string> with_timestamp(std::string_view body, TimePoint timestamp) {
  const auto span = find_top_level_string(body, "Timestamp");
  if (!span) {
    return Parsed<std::string>::failure(
        "body: no top-level \"Timestamp\" string; give a body of the form {Event, Message, "
        "Timestamp}");
  }
  std::string edited(body);
  edited.replace(span->offset, span->size, format_rfc3339(timestamp));
  return Parsed<std::string>{std::move(edited), {}};
}

}  // namespace tykhook
