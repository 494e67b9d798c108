#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tykhook {

/// One HTTP header as received: name and value without surrounding white space.
struct Header {
  std::string name;   ///< as received, in its own case
  std::string value;  ///< without surrounding white space
};

/// An HTTP request as the verifier sees it. The body is kept byte for byte (NULs are legal).
struct Request {
  std::string method = "POST";  ///< as received, e.g. "POST" or "PUT"
  std::string target = "/";     ///< the request line's target: path and query
  std::vector<Header> headers;  ///< in arrival order; names keep their case
  std::string body;             ///< the exact bytes, after chunked decoding

  /// Returns the values of every header named `name` (compared case-insensitively), in order.
  [[nodiscard]] std::vector<std::string_view> header_values(std::string_view name) const;
};

/// Compares two header names as HTTP does (ASCII case-insensitive).
[[nodiscard]] bool header_name_equals(std::string_view a, std::string_view b);

}  // namespace tykhook
