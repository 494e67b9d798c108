#include "url.h"

#include <string>

namespace tykhook::cli {

Parsed<Url> parse_url(std::string_view text, std::string_view credentials_option) {
  auto url = detail::parse_http_url(text, credentials_option);
  if (!url) {
    return Parsed<Url>::failure("\"" + detail::shown_url(text) + "\": " + url.error +
                                "; expected http://HOST[:PORT][/PATH], e.g. "
                                "http://127.0.0.1:8080/webhooks");
  }
  return url;
}

}  // namespace tykhook::cli
