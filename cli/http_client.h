#pragma once

// What the commands that send requests (`send`, `replay`, `probe`) share: the client for a URL,
// the message for a request that got no response, their extra headers, and the sample delivery
// of an event. In tykhook-network only, which links the HTTP library.

#include <httplib.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tykhook/events.h"
#include "tykhook/timestamp.h"
#include "url.h"

namespace tykhook::cli {

/// A client for `url`'s scheme, host and port, with `timeout` to connect and for each read and
/// write; https verifies the server's certificate against the system's CAs.
[[nodiscard]] std::unique_ptr<httplib::Client> make_client(const Url& url,
                                                           std::chrono::milliseconds timeout);

/// The message for a request to `url` that got no response: "<what>; <how to fix>", naming
/// `--timeout <timeout_text>` when the time ran out. A refused connection is tried once more,
/// directly, to say why ("Connection refused"): the HTTP client reports only that it failed.
[[nodiscard]] std::string failure_message(httplib::Error error, const Url& url,
                                          std::chrono::milliseconds timeout,
                                          const std::string& timeout_text);

/// The headers that repeated `--header "NAME: VALUE"` options give; nullopt, with `error` set
/// to the usage message ("--header: ..."; never the value), when one is not a header.
[[nodiscard]] std::optional<httplib::Headers> extra_headers_of(
    const std::vector<std::string>& options, std::string& error);

/// The usage message for a --method that is empty or holds white space; nullopt for a method.
[[nodiscard]] std::optional<std::string> method_error(const std::string& method);

/// The sample body of `event` with Timestamp `now`, every other byte as the portal sends it;
/// nullopt for an event without a sample (RegisterInvite: the portal documents no payload).
[[nodiscard]] std::optional<std::string> fresh_sample(Event event, TimePoint now);

}  // namespace tykhook::cli
