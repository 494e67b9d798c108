// Fuzz target: the read_*_message functions on parsed JSON. The input is read as a body (its
// Message is used when it is an envelope) or else as any JSON value, nested no deeper than a
// body may be. Every reader gets it; a failure names the member, a success keeps the members
// it does not name in `extra`; and a Message that passes its event's schema must also read
// into its event's struct, since the dispatcher reads every verified delivery that way.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "fuzz_checks.h"
#include "tykhook/envelope.h"
#include "tykhook/events.h"
#include "tykhook/messages.h"
#include "tykhook/schema.h"

namespace {

using nlohmann::json;
using tykhook::Event;
using tykhook::fuzz::require;

// The same bound as a body's (DESIGN.md, "Sizes"), found the same way: brackets outside strings.
bool nests_deeper_than_a_body(std::string_view text) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > tykhook::max_json_depth) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

template <class T>
void require_read(const tykhook::Parsed<T>& read, const json& message, std::string_view reader) {
  const std::string where(reader);
  if (!read) {
    tykhook::fuzz::require_message(read.error, where);
    require(read.error.starts_with("/Message"), where + ": an error names the member");
    return;
  }
  require(read.error.empty(), where + ": a read message has no error");
  require(message.is_object(), where + ": only an object reads");
  if constexpr (requires { read->extra; }) {
    require(read->extra.is_object() && read->extra.size() <= message.size(),
            where + ": extra holds members of the message only");
    for (const auto& [key, value] : read->extra.items()) {
      const auto found = message.find(key);
      require(found != message.end() && *found == value, where + ": extra keeps the member");
    }
  }
}

template <Event E>
void check_event(const json& message, const tykhook::SchemaRegistry& schemas) {
  const auto read = tykhook::read_message<E>(message);
  const std::string name(tykhook::to_string(E));
  require_read(read, message, "read_message<" + name + ">");
  // Known gap, left to the owners of messages.h and the schemas: the schemas accept integers up
  // to 2^64 - 1 (Go's uint), the structs hold std::int64_t and refuse what is above 2^63 - 1.
  const bool known_gap = read.error.find("is out of range; expected at most") != std::string::npos;
  if (!known_gap && schemas.validate(E, message).empty()) {
    require(read.ok(), name + ": a Message that passes the schema does not read: " + read.error);
  }
}

template <std::size_t... I>
void check_every_event(const json& message, const tykhook::SchemaRegistry& schemas,
                       std::index_sequence<I...>) {
  (check_event<static_cast<Event>(I)>(message, schemas), ...);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = tykhook::fuzz::bytes_of(data, size);
  json message;
  if (auto result = tykhook::parse_envelope(text); result.envelope) {
    message = std::move(result.envelope->message);
  } else {
    if (nests_deeper_than_a_body(text)) return 0;
    message = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (message.is_discarded()) return 0;
  }

  require_read(tykhook::read_user_message(message), message, "read_user_message");
  require_read(tykhook::read_application_message(message), message, "read_application_message");
  require_read(tykhook::read_credential_message(message), message, "read_credential_message");
  require_read(tykhook::read_access_request_message(message), message,
               "read_access_request_message");
  require_read(tykhook::read_organisation_message(message), message, "read_organisation_message");
  require_read(tykhook::read_organisation_request_message(message), message,
               "read_organisation_request_message");
  require_read(tykhook::read_invite_message(message), message, "read_invite_message");

  static const auto schemas = tykhook::SchemaRegistry::embedded();
  constexpr std::size_t event_count = 14;
  require(tykhook::all_events().size() == event_count, "the catalogue has 14 events");
  check_every_event(message, *schemas, std::make_index_sequence<event_count>{});
  return 0;
}
