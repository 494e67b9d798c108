#include "tykhook/store.h"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "store_impl.h"
#include "tykhook/error.h"

namespace tykhook {
namespace {

constexpr std::string_view store_forms = "use memory:, sqlite:PATH or redis://HOST:PORT[/DB]";
constexpr char redis_password_variable[] = "TYKHOOK_REDIS_PASSWORD";

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// A URI as it may appear in a message. In a URI with an authority (`scheme://`), the user-info
// and the value of every query parameter but `prefix` become "***", so that a password typed
// into the URI by mistake never reaches a log. Other URIs (`sqlite:PATH`) are shown as given.
std::string redact(std::string_view uri) {
  const auto scheme_end = uri.find("://");
  if (scheme_end == std::string_view::npos) return std::string(uri);
  std::string out(uri.substr(0, scheme_end + 3));
  std::string_view rest = uri.substr(scheme_end + 3);
  const auto authority_end = rest.find_first_of("/?#");
  if (const auto at = rest.substr(0, authority_end).rfind('@'); at != std::string_view::npos) {
    out.append("***");
    rest.remove_prefix(at);
  }
  const auto query = rest.find('?');
  out.append(rest.substr(0, query));
  if (query == std::string_view::npos) return out;
  rest.remove_prefix(query + 1);
  out.push_back('?');
  while (true) {
    const auto amp = rest.find('&');
    const auto pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    const auto name = pair.substr(0, eq);
    out.append(name);
    if (eq != std::string_view::npos) out.append(name == "prefix" ? pair.substr(eq) : "=***");
    if (amp == std::string_view::npos) break;
    out.push_back('&');
    rest.remove_prefix(amp + 1);
  }
  return out;
}

[[noreturn]] void fail(std::string_view uri, std::string_view what) {
  throw Error(detail::where(redact(uri)) + std::string(what));
}

std::optional<int> parse_int(std::string_view text) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// redis://HOST[:PORT][/DB][?prefix=P]. HOST may be an IPv6 address in brackets.
detail::RedisAddress parse_redis(std::string_view uri, std::string_view rest) {
  detail::RedisAddress address;
  const auto query_start = rest.find('?');
  std::string_view query =
      query_start == std::string_view::npos ? std::string_view() : rest.substr(query_start + 1);
  rest = rest.substr(0, query_start);
  const auto path_start = rest.find('/');
  std::string_view authority = rest.substr(0, path_start);
  if (authority.find('@') != std::string_view::npos) {
    fail(uri, std::string("credentials in the URI are not accepted; remove them and set ") +
                  redis_password_variable + " instead");
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      fail(uri, "IPv6 host has no closing \"]\"; use redis://[::1]:6379");
    }
    host = authority.substr(1, close - 1);
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') fail(uri, "expected \":PORT\" after \"]\"; use redis://[::1]:6379");
      port = after.substr(1);
      if (port.empty()) fail(uri, "missing port after \":\"; use redis://HOST:PORT, e.g. :6379");
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) fail(uri, "missing port after \":\"; use redis://HOST:PORT, e.g. :6379");
  }
  if (host.empty()) {
    fail(uri, "missing host; use redis://HOST:PORT[/DB], e.g. redis://127.0.0.1:6379");
  }
  address.host = std::string(host);
  if (!port.empty()) {
    const auto number = parse_int(port);
    if (!number || *number < 1 || *number > 65535) {
      fail(uri,
           "port \"" + std::string(port) + "\" is not a number from 1 to 65535; use e.g. :6379");
    }
    address.port = *number;
  }
  if (path_start != std::string_view::npos) {
    const auto db = rest.substr(path_start + 1);
    if (!db.empty()) {
      const auto number = parse_int(db);
      if (!number || *number < 0) {
        fail(uri, "database \"" + std::string(db) +
                      "\" is not a number from 0; use redis://HOST:PORT/DB, e.g. /0");
      }
      address.db = *number;
    }
  }
  bool prefix_seen = false;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const auto eq = pair.find('=');
    const auto name = pair.substr(0, eq);
    if (name != "prefix" || eq == std::string_view::npos) {
      fail(uri,
           "unknown parameter \"" + std::string(name) + "\"; the only one is ?prefix=KEYPREFIX");
    }
    if (prefix_seen) fail(uri, "parameter \"prefix\" is given twice; give it once");
    prefix_seen = true;
    address.prefix = std::string(pair.substr(eq + 1));
  }
  return address;
}

}  // namespace

namespace detail {

void check_ttl(std::chrono::milliseconds ttl) {
  if (ttl.count() <= 0) {
    throw std::invalid_argument("Store::claim: ttl " + std::to_string(ttl.count()) +
                                " ms is not positive; pass a ttl of at least 1 ms");
  }
}

std::string where(std::string_view uri) { return "store \"" + std::string(uri) + "\": "; }

}  // namespace detail

std::unique_ptr<Store> open_store(std::string_view uri) { return open_store(uri, StoreOptions{}); }

std::unique_ptr<Store> open_store(std::string_view uri, const StoreOptions& options) {
  const auto colon = uri.find(':');
  if (colon == std::string_view::npos) {
    // The name of a store type alone is that type without its colon; anything else is taken
    // for the path of a SQLite file.
    std::string example = "sqlite:" + std::string(uri.empty() ? "tykhook.db" : uri);
    if (iequals(uri, "memory")) example = "memory:";
    if (iequals(uri, "sqlite")) example = "sqlite:tykhook.db";
    if (iequals(uri, "redis")) example = "redis://127.0.0.1:6379";
    fail(uri, std::string("no store type; ") + std::string(store_forms) + ", e.g. " + example);
  }
  const auto scheme = uri.substr(0, colon);
  const auto rest = uri.substr(colon + 1);
  if (iequals(scheme, "memory")) {
    if (!rest.empty()) fail(uri, "memory: takes no path; use memory:");
    if (options.memory_max_keys == 0) {
      throw std::invalid_argument("open_store: memory_max_keys is 0; allow at least 1 key");
    }
    return detail::open_memory_store(options.memory_max_keys);
  }
  if (iequals(scheme, "sqlite")) {
    if (rest.empty()) fail(uri, "missing path; use sqlite:PATH, e.g. sqlite:tykhook.db");
    return detail::open_sqlite_store(rest, std::string(uri), options.sqlite_busy_timeout);
  }
  if (iequals(scheme, "redis")) {
    if (!rest.starts_with("//")) {
      fail(uri, "expected \"//\" after \"redis:\"; use redis://HOST:PORT[/DB]");
    }
    auto address = parse_redis(uri, rest.substr(2));
    std::optional<std::string> password;
    if (const char* value = std::getenv(redis_password_variable);
        value != nullptr && *value != '\0') {
      password = value;
    }
    return detail::open_redis_store(std::move(address), std::move(password), redact(uri),
                                    options.redis_timeout);
  }
  if (iequals(scheme, "rediss")) {
    fail(uri, "TLS is not supported; use redis://HOST:PORT over loopback or a TLS tunnel");
  }
  fail(uri, std::string("unknown store; ") + std::string(store_forms));
}

}  // namespace tykhook
