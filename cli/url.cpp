#include "url.h"

#include <charconv>

namespace tykhook::cli {

std::string Url::authority() const {
  const bool bracket = host.find(':') != std::string::npos;
  std::string text = bracket ? "[" + host + "]" : host;
  const int default_port = scheme == "https" ? 443 : 80;
  if (port != default_port) text += ":" + std::to_string(port);
  return text;
}

Parsed<Url> parse_url(std::string_view text) {
  const std::string quoted = "\"" + std::string(text.substr(0, 200)) + "\"";
  const auto fail = [&quoted](const std::string& what) {
    return Parsed<Url>::failure(quoted + ": " + what +
                                "; expected http://HOST[:PORT][/PATH], e.g. "
                                "http://127.0.0.1:8080/webhooks");
  };
  Url url;
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return fail("missing scheme");
  url.scheme = std::string(text.substr(0, scheme_end));
  if (url.scheme != "http" && url.scheme != "https") return fail("unsupported scheme");
  url.port = url.scheme == "https" ? 443 : 80;
  std::string_view rest = text.substr(scheme_end + 3);
  const auto path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view target = path_start == std::string_view::npos ? "" : rest.substr(path_start);
  if (const auto hash = target.find('#'); hash != std::string_view::npos) {
    target = target.substr(0, hash);
  }
  if (authority.find('@') != std::string_view::npos) return fail("user information not allowed");
  std::string_view port_text;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return fail("unclosed [ in the host");
    url.host = std::string(authority.substr(1, close - 1));
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("unexpected text after the host");
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (url.host.empty()) return fail("missing host");
  if (url.host.find_first_of(" \t\r\n/") != std::string::npos) return fail("bad character in host");
  if (!port_text.empty() || authority.ends_with(':')) {
    int port = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 ||
        port > 65535) {
      return fail("port must be a number from 1 to 65535");
    }
    url.port = port;
  }
  url.target = target.empty() ? "/" : (target.front() == '?' ? "/" : "") + std::string(target);
  if (url.target.find_first_of(" \t\r\n") != std::string::npos) return fail("white space in path");
  return Parsed<Url>{std::move(url), {}};
}

}  // namespace tykhook::cli
