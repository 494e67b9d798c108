#include "http_url.h"

#include <charconv>
#include <optional>

namespace tykhook::detail {
namespace {

constexpr std::size_t shown_bytes = 200;

// Where the authority starts (after "scheme://", or at 0 without one), and where user
// information ends (its '@'), if the authority has any.
struct Parts {
  std::size_t host_start;
  std::optional<std::size_t> at;
};

Parts parts_of(std::string_view text) {
  const auto scheme_end = text.find("://");
  const std::size_t host_start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  const auto at = text.find('@', host_start);
  if (at == std::string_view::npos || at > text.find_first_of("/?#", host_start)) {
    return {host_start, std::nullopt};
  }
  return {host_start, at};
}

}  // namespace

std::string HttpUrl::authority() const {
  std::string text = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (scheme == "https" ? 443 : 80)) text += ":" + std::to_string(port);
  return text;
}

std::string HttpUrl::origin() const { return scheme + "://" + authority(); }

std::string shown_url(std::string_view text) {
  const Parts parts = parts_of(text);
  if (!parts.at) return std::string(text.substr(0, shown_bytes));
  return std::string(text.substr(0, parts.host_start)) + "USER@" +
         std::string(text.substr(*parts.at + 1, shown_bytes));
}

Parsed<HttpUrl> parse_http_url(std::string_view text, std::string_view credentials_option) {
  using Result = Parsed<HttpUrl>;
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return Result::failure("missing scheme");
  HttpUrl url;
  url.scheme = std::string(text.substr(0, scheme_end));
  if (url.scheme != "http" && url.scheme != "https") {
    return Result::failure("unsupported scheme \"" + url.scheme.substr(0, 20) + "\"");
  }
  if (parts_of(text).at) {
    std::string error = "user information is not allowed";
    if (!credentials_option.empty()) {
      error += "; send credentials with " + std::string(credentials_option);
    }
    return Result::failure(std::move(error));
  }
  url.port = url.scheme == "https" ? 443 : 80;
  const std::string_view rest = text.substr(scheme_end + 3);
  const auto path_start = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, path_start);
  std::string_view target = path_start == std::string_view::npos ? "" : rest.substr(path_start);
  target = target.substr(0, target.find('#'));
  std::optional<std::string_view> port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return Result::failure("unclosed [ in the host");
    url.host = std::string(authority.substr(1, close - 1));
    const auto after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') {
      return Result::failure("unexpected text after the host");
    }
    if (!after.empty()) port = after.substr(1);
  } else {
    const auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (url.host.empty()) return Result::failure("missing host");
  if (url.host.find_first_of(" \t\r\n") != std::string::npos) {
    return Result::failure("white space in host");
  }
  if (port) {
    const auto [end, ec] = std::from_chars(port->data(), port->data() + port->size(), url.port);
    if (ec != std::errc() || end != port->data() + port->size() || url.port < 1 ||
        url.port > 65535) {
      return Result::failure("port must be a number from 1 to 65535");
    }
  }
  url.target = target.empty() ? "/" : (target.front() == '?' ? "/" : "") + std::string(target);
  if (url.target.find_first_of(" \t\r\n") != std::string::npos) {
    return Result::failure("white space in path");
  }
  return Result{std::move(url), {}};
}

}  // namespace tykhook::detail
