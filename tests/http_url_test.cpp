// The one parser of the URLs tykhook sends requests to (lib/src/http_url.h): the parts a request
// needs, what it refuses and why, and that no message shows a URL's password.

#include "http_url.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

using tykhook::detail::parse_http_url;
using tykhook::detail::shown_url;

TEST_CASE("an http(s) URL is split into scheme, host, port and target") {
  const struct {
    std::string_view text;
    std::string_view host;
    int port;
    std::string_view target;
    std::string_view origin;
  } cases[] = {
      {"http://127.0.0.1:9000/hook", "127.0.0.1", 9000, "/hook", "http://127.0.0.1:9000"},
      {"http://example.com", "example.com", 80, "/", "http://example.com"},
      {"https://example.com/a/b?x=1", "example.com", 443, "/a/b?x=1", "https://example.com"},
      // The scheme's own port is not repeated; the fragment is never sent.
      {"http://example.com:80/p#frag", "example.com", 80, "/p", "http://example.com"},
      {"https://example.com:8443?t=2", "example.com", 8443, "/?t=2", "https://example.com:8443"},
      {"http://[::1]:8080/hook", "::1", 8080, "/hook", "http://[::1]:8080"},
      {"http://[::1]/", "::1", 80, "/", "http://[::1]"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    const auto url = parse_http_url(c.text);
    REQUIRE(url);
    CHECK(url->host == c.host);
    CHECK(url->port == c.port);
    CHECK(url->target == c.target);
    CHECK(url->origin() == c.origin);
  }
  CHECK(parse_http_url("http://[::1]:8080/")->authority() == "[::1]:8080");
  CHECK(parse_http_url("https://h:443/")->authority() == "h");
}

TEST_CASE("a URL that is not one says what is wrong, without repeating the text") {
  const struct {
    std::string_view text;
    std::string_view error;
  } cases[] = {
      {"127.0.0.1:9000/hook", "missing scheme"},
      {"ftp://host/x", "unsupported scheme \"ftp\""},
      {"http:///hook", "missing host"},
      {"http://:9000/hook", "missing host"},
      {"http://[]:9000/", "missing host"},
      {"http://host:/", "port must be a number from 1 to 65535"},
      {"http://host:0/", "port must be a number from 1 to 65535"},
      {"http://host:65536/", "port must be a number from 1 to 65535"},
      {"http://host:80x/", "port must be a number from 1 to 65535"},
      {"http://[::1/", "unclosed [ in the host"},
      {"http://[::1]x/", "unexpected text after the host"},
      {"http://ho st/", "white space in host"},
      {"http://host/a b", "white space in path"},
      {"http://user:secret@host/", "user information is not allowed"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    const auto url = parse_http_url(c.text);
    REQUIRE_FALSE(url);
    CHECK(url.error == c.error);
  }
  CHECK(parse_http_url("http://u:p@h/", "--header").error ==
        "user information is not allowed; send credentials with --header");
  // An '@' after the authority is part of the path, not user information.
  CHECK(parse_http_url("http://host/a@b")->target == "/a@b");
}

TEST_CASE("a URL as a message shows it: no user information, at most 200 bytes") {
  CHECK(shown_url("http://alice:s3cret@host:9/x?y") == "http://USER@host:9/x?y");
  CHECK(shown_url("alice:s3cret@host/x") == "USER@host/x");
  CHECK(shown_url("http://host/a@b") == "http://host/a@b");
  const std::string long_url = "http://host/" + std::string(500, 'a');
  CHECK(shown_url(long_url) == long_url.substr(0, 200));
  const std::string shown = shown_url("http://u:" + std::string(300, 'p') + "@host/");
  CHECK(shown == "http://USER@host/");
}
