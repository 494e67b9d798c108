#pragma once

// Private to the library: the one parser of the http:// and https:// URLs that tykhook sends
// requests to (`listen --forward-to`, and the command line's `--to`), and how a message shows
// such a URL without the password that its user information may hold.

#include <string>
#include <string_view>

#include "tykhook/error.h"

namespace tykhook::detail {

/// An http:// or https:// URL split into the parts a request needs.
struct HttpUrl {
  std::string scheme;  ///< "http" or "https"
  std::string host;    ///< host name or address, without brackets for IPv6
  int port = 80;       ///< the given one, or the scheme's
  std::string target;  ///< path and query, "/" when empty; no fragment
  /// The Host header value: host (bracketed for IPv6), with ":port" unless it is the scheme's.
  [[nodiscard]] std::string authority() const;
  /// What a client connects to: "scheme://authority".
  [[nodiscard]] std::string origin() const;
};

/// Parses `text` as an http(s) URL. The error says what is wrong ("missing host") without
/// repeating the text; a URL with user information is refused, and `credentials_option`, when
/// given, is named as the way to send credentials instead.
[[nodiscard]] Parsed<HttpUrl> parse_http_url(std::string_view text,
                                             std::string_view credentials_option = {});

/// `text` as a message may quote it: at most 200 bytes, and user information (`user:password@`)
/// replaced by `USER@`.
[[nodiscard]] std::string shown_url(std::string_view text);

}  // namespace tykhook::detail
