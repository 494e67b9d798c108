#pragma once

#include <string>
#include <string_view>

#include "tykhook/error.h"

namespace tykhook::cli {

/// An http:// or https:// URL split into the parts a request needs.
struct Url {
  std::string scheme;  ///< "http" or "https"
  std::string host;    ///< host name or address, without brackets for IPv6
  int port = 80;
  std::string target;  ///< path and query, "/" when empty
  /// The Host header value: host, with ":port" when it is not the scheme's default.
  [[nodiscard]] std::string authority() const;
};

/// Parses `text` as an http(s) URL; the error says what is wrong and shows the expected form.
[[nodiscard]] Parsed<Url> parse_url(std::string_view text);

}  // namespace tykhook::cli
