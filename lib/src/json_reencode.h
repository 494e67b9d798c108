#pragma once

// Private to the library: a JSON body written again in the ways that tools rewrite one (a
// logger that pretty-prints, a proxy that parses and re-serialises, an editor), so that
// `explain_mismatch` can test whether the signed bytes were one of them. For diagnosis only: the
// verifier never re-serialises a body (DESIGN.md, "Data flows one way").

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tykhook::detail {

/// Where white space goes between the tokens of a JSON text.
enum class JsonLayout {
  compact,  ///< none: Go's encoding/json, the portal's form
  spaced,   ///< one space after each `,` and `:`, on one line: Python's json.dumps
  indent2,  ///< one member per line, indented by two spaces: jq, JavaScript, Go's MarshalIndent
  indent4,  ///< the same, by four spaces: Python's json.dumps(indent=4)
};

/// The order in which an object's members are written.
enum class JsonKeyOrder {
  as_read,         ///< as they are in the body
  envelope_first,  ///< the body's Event, Message, Timestamp first (the portal's struct order)
  sorted,          ///< by name, at every level (jq -S, Python's sort_keys, Go's maps)
};

/// One way of writing a JSON value.
struct JsonEncoding {
  JsonLayout layout = JsonLayout::compact;
  JsonKeyOrder order = JsonKeyOrder::as_read;
  bool escape_html = true;    ///< <, >, &, U+2028 and U+2029 as \u escapes, as Go writes them
  bool escape_slash = false;  ///< / as \/ (PHP's json_encode); Go leaves it alone
};

/// What a JSON text shows of the way it was written, for naming what a re-encoding changed.
struct JsonLook {
  std::size_t depth = 0;               ///< the deepest nesting of arrays and objects
  bool newlines = false;               ///< line breaks between tokens (pretty-printed)
  bool spaces = false;                 ///< spaces or tabs between tokens
  bool html_escapes = false;           ///< \u003c, \u003e or \u0026 in a string
  bool raw_html = false;               ///< <, > or & as themselves in a string
  bool slash_escapes = false;          ///< \/ in a string
  bool raw_slashes = false;            ///< / as itself in a string
  bool other_unicode_escapes = false;  ///< another \uXXXX escape (non-ASCII, e.g. \u00e9)
};

/// Looks at `text` (a JSON text, or anything: the look of what was read) in one pass.
[[nodiscard]] JsonLook look_of(std::string_view text);

/// Parses `body` keeping each object's member order; nullopt when it is not JSON.
[[nodiscard]] std::optional<nlohmann::ordered_json> parse_ordered(std::string_view body);

/// Writes `value` in `encoding`. Strings keep their UTF-8 bytes (invalid sequences become
/// U+FFFD: such a body could not have been the portal's anyway).
[[nodiscard]] std::string encode_json(const nlohmann::ordered_json& value,
                                      const JsonEncoding& encoding);

/// Every encoding that explain_mismatch tries, the portal's own first and the less likely
/// combinations later.
[[nodiscard]] std::vector<JsonEncoding> encodings_to_try();

}  // namespace tykhook::detail
