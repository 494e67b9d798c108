// Fuzz target: the receiver's own reading of a request, on any bytes as a client sends them.
// parse_head keeps only what it promises (token names, values without control characters or
// outer white space); plain_delivery takes a request only when it is whole and plain, agrees
// with parse_head about its head, and gives the same answer for the request on its own, and
// none for it cut short by a byte.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_checks.h"
#include "request_head.h"

namespace {

using tykhook::fuzz::require;
namespace detail = tykhook::detail;

constexpr std::size_t max_header_bytes = 16 * 1024;
constexpr std::size_t max_headers = 64;

void check_head(const detail::Head& head) {
  require(detail::is_token(head.method), "a method is a token");
  require(!head.target.empty() && head.target.find(' ') == std::string::npos,
          "a target is one word");
  for (const auto& header : head.headers) {
    require(detail::is_token(header.name), "a header name is a token");
    for (const char c : header.value) {
      const auto byte = static_cast<unsigned char>(c);
      require((byte >= 0x20 || c == '\t') && byte != 0x7f, "a header value has no control byte");
    }
    require(header.value == detail::trim(header.value), "a header value is trimmed");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes = tykhook::fuzz::bytes_of(data, size);
  const auto parsed = detail::parse_head(bytes);
  if (parsed) {
    check_head(*parsed);
  } else {
    tykhook::fuzz::require_message(parsed.error, "parse_head");
  }

  const auto plain = detail::plain_delivery(bytes, max_header_bytes, max_headers);
  if (!plain) return 0;
  const std::size_t whole = plain->head_size + plain->body_size;
  require(plain->head_size >= 4 && whole <= size, "a plain delivery lies inside the bytes");
  const std::string_view head_text = bytes.substr(0, plain->head_size);
  require(head_text.ends_with("\r\n\r\n") && head_text.find("\r\n\r\n") == head_text.size() - 4,
          "a plain delivery's head ends at the first blank line");
  require(plain->head_size <= max_header_bytes, "a plain delivery's head is within the limit");
  require(head_text.substr(0, head_text.find("\r\n")).ends_with(" HTTP/1.1"),
          "a plain delivery is HTTP/1.1");
  require(detail::is_delivery_method(plain->head.method), "a plain delivery is POST, PUT or PATCH");
  require(!plain->head.target.empty() && plain->head.target.front() == '/' &&
              plain->head.target.find_first_of("%# ") == std::string::npos,
          "a plain delivery's target is plain");
  check_head(plain->head);
  const auto again = detail::parse_head(head_text);
  require(again.ok() && again->method == plain->head.method &&
              again->target == plain->head.target &&
              again->headers.size() == plain->head.headers.size(),
          "plain_delivery and parse_head read the head alike");
  const auto lengths = plain->head.values("Content-Length");
  require(lengths.size() == 1 && std::to_string(plain->body_size).size() <= lengths[0].size(),
          "a plain delivery has one Content-Length");
  for (const std::string_view name : {"Transfer-Encoding", "Expect", "Connection", "Range",
                                      "Accept-Encoding", "Content-Encoding"}) {
    require(plain->head.values(name).empty(), "a plain delivery has none of the engine's headers");
  }
  const auto alone = detail::plain_delivery(bytes.substr(0, whole), max_header_bytes, max_headers);
  require(alone && alone->head_size == plain->head_size && alone->body_size == plain->body_size,
          "what follows a plain delivery does not change it");
  require(!detail::plain_delivery(bytes.substr(0, whole - 1), max_header_bytes, max_headers),
          "a plain delivery cut short is not one");
  return 0;
}
