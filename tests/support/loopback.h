#pragma once

// Loopback sockets and raw HTTP/1.1 over them: what a test sends byte for byte to a server on
// 127.0.0.1, and what it reads of the answers.

#include <chrono>
#include <string>
#include <vector>

namespace tykhook::test {

/// A socket connected to 127.0.0.1:`port` (the test fails when it cannot connect).
int connect_to(int port);

/// Whether something accepts connections on 127.0.0.1:`port` now.
bool accepts_connections(int port);

/// A loopback port that was free a moment ago.
int free_port();

/// The "IP:PORT" of the local end of `fd`, as a server's log names its client.
std::string local_address(int fd);

/// Whether the server at the other end of loopback connection `fd` has read every byte sent
/// on it: the kernel's count of bytes it holds unread for the server's socket is zero.
bool read_by_peer(int fd);

/// Appends to `text` what the server sends next, waiting until `deadline` at most; false when
/// nothing came (the server closed, or the time is up).
bool receive_more(int fd, std::string& text, std::chrono::steady_clock::time_point deadline);

/// Reads what the server sends until it closes, or `timeout` passes.
std::string read_until_closed(int fd, std::chrono::milliseconds timeout = std::chrono::seconds(5));

/// Sends `bytes` as they are on a new connection and returns all the server answered.
std::string exchange(int port, const std::string& bytes,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5));

/// Reads `count` responses (each a head and its Content-Length body) from `fd`, waiting 5 s at
/// most; fewer when the connection ends or the time is up.
std::vector<std::string> read_responses(int fd, std::size_t count);

/// The next response on `fd`, or "" when none came.
std::string read_response(int fd);

/// Sends `request` on a new connection, whole in one write or in two (the head, then, once the
/// server has read the head alone, the body), and returns the response; `client` is set to the
/// connection's "IP:PORT" as the server's log names it.
std::string send_request(int port, const std::string& request, bool in_parts,
                         std::string* client = nullptr);

/// The status code of a raw response, 0 when it has no HTTP/1.1 status line.
int status_of(const std::string& response);

/// The value of header `name` (any case) in a raw response, "" when it has none.
std::string header_of(const std::string& response, const std::string& name);

/// The body of a raw response: what follows its head.
std::string body_of(const std::string& response);

}  // namespace tykhook::test
