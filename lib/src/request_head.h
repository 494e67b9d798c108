#pragma once

// Private to the library: the receiver's reading of a request head, byte for byte as the client
// sent it, and its test for a plain delivery that it serves without the HTTP engine.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http_syntax.h"
#include "tykhook/error.h"
#include "tykhook/request.h"

namespace tykhook::detail {

/// The request line and headers, byte for byte as received: names keep their case, headers
/// keep their order, and nothing is added (the HTTP engine adds REMOTE_ADDR and the like).
struct Head {
  std::string method;
  std::string target;
  std::vector<Header> headers;

  /// The values of every header named `name` (case-insensitive), in order.
  std::vector<std::string_view> values(std::string_view name) const;
};

/// Parses a request line and headers (up to and with the blank line), strictly: every line ends
/// with CRLF, the request line is three words one space apart with a token for the method,
/// header names are tokens, no line folding, no control character in a value. The
/// HTTP engine skips lines it cannot read; refusing them instead keeps the framing that both
/// sides see the same.
[[nodiscard]] Parsed<Head> parse_head(std::string_view bytes);

/// True for POST, PUT and PATCH, the methods a delivery may come with.
[[nodiscard]] bool is_delivery_method(std::string_view method);

/// `text` for an error message: at most 64 bytes, in double quotes, bytes outside visible ASCII
/// (and quotes and backslashes) as \xHH.
[[nodiscard]] std::string quote(std::string_view text);

/// A request that has arrived whole and that the receiver serves itself (see plain_delivery).
struct PlainDelivery {
  std::size_t head_size = 0;  ///< the request line and headers, with the blank line
  std::size_t body_size = 0;  ///< its Content-Length; the body follows the head
  Head head;
};

/// The plain delivery at the start of `bytes`, or nullopt for anything else: HTTP/1.1, POST,
/// PUT or PATCH, a target of visible ASCII starting with "/" without "%" or "#" (the engine
/// decodes escapes into the path it routes on), a head that parse_head accepts within
/// `max_header_bytes` and `max_headers` lines, exactly one Content-Length and the whole body in
/// `bytes`, and none of the headers that change how the engine reads or answers a request:
/// Transfer-Encoding, Expect, Connection, Range, Accept-Encoding, Content-Encoding. For these,
/// the engine would answer the same as the receiver does itself; every other request (and a
/// request that is still arriving) is left to the engine.
[[nodiscard]] std::optional<PlainDelivery> plain_delivery(std::string_view bytes,
                                                          std::size_t max_header_bytes,
                                                          std::size_t max_headers);

}  // namespace tykhook::detail
