#include "connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace tykhook::detail {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// After a response that leaves part of a request unread (a refused body), the connection is
// closed only after reading what the client still sends for this long (at most linger_bytes):
// closing a socket with unread input resets it, and the client could lose the response.
constexpr milliseconds linger_time{1'000};
constexpr std::size_t linger_bytes = 1024 * 1024;
// Response bytes gathered before they are sent (Connection::write): more are sent at once.
constexpr std::size_t max_output = 64 * 1024;

void describe(const sockaddr_storage& address, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    ::inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
    port = ntohs(v4.sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
    port = ntohs(v6.sin6_port);
  }
  ip = text;
}

// Milliseconds from now to `deadline`, as poll() takes them: 0 once it has passed.
int remaining(SteadyClock::time_point deadline) {
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 1'000'000'000));
}

}  // namespace

Connection::Connection(int fd, const ConnectionLimits& limits) : fd_(fd), limits_(limits) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    describe(address, remote_ip_, remote_port_);
  }
  length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    describe(address, local_ip_, local_port_);
  }
  client_ = remote_ip_.find(':') == std::string::npos
                ? remote_ip_ + ":" + std::to_string(remote_port_)
                : "[" + remote_ip_ + "]:" + std::to_string(remote_port_);
}

Connection::~Connection() { close(); }

bool Connection::next_request_within(milliseconds timeout) const {
  pollfd fds = {fd_, POLLIN, 0};
  return ::poll(&fds, 1, static_cast<int>(timeout.count())) > 0;
}

// ---- one request: its deadline, its head, its bytes ---------------------------------------------

void Connection::begin_request(bool last) {
  record = RequestRecord{};
  record.time = std::chrono::time_point_cast<std::chrono::nanoseconds>(Clock::now());
  record.client = client_;
  outcome.reset();
  event.reset();
  errors.clear();
  details.reset();
  started = SteadyClock::now();
  read_deadline_ = started + limits_.read_timeout;
  reading_head_ = true;
  head_bytes_.clear();
  head_lines_ = 0;
  head.reset();
  head_too_large = timed_out = written = false;
  last_request = last;
  framing = Framing::none;
  content_length = 0;
}

void Connection::set_head(Parsed<Head> parsed) {
  reading_head_ = false;
  head = std::move(parsed);
  if (*head) {
    record.method = (*head)->method;
    record.path = (*head)->target.substr(0, (*head)->target.find('?'));
  }
}

std::string_view Connection::peek() {
  if (buffered() == 0 && output_.empty()) {
    ssize_t n = 0;
    do {
      n = ::recv(fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    begin_ = 0;
    end_ = n > 0 ? static_cast<std::size_t>(n) : 0;
  }
  return {buffer_.data() + begin_, buffered()};
}

void Connection::take_head(std::size_t size, Parsed<Head> parsed) {
  begin_ += size;
  set_head(std::move(parsed));
}

std::string_view Connection::take(std::size_t size) {
  const std::string_view taken(buffer_.data() + begin_, std::min(size, buffered()));
  begin_ += taken.size();
  return taken;
}

bool Connection::is_readable() const {
  if (buffered() > 0) return true;
  pollfd fds = {fd_, POLLIN, 0};
  return ::poll(&fds, 1, remaining(read_deadline_)) > 0;
}

ssize_t Connection::read(char* ptr, size_t size) {
  if (buffered() == 0) {
    const ssize_t filled = fill();
    if (filled <= 0) return filled;
  }
  const std::size_t n = std::min(size, buffered());
  std::memcpy(ptr, buffer_.data() + begin_, n);
  if (reading_head_) {
    // The engine reads the head a byte at a time, so what passes here is the head exactly.
    head_bytes_.append(ptr, n);
    head_lines_ += static_cast<std::size_t>(std::count(ptr, ptr + n, '\n'));
    // The head has the request line, the headers and a blank line.
    if (head_bytes_.size() > limits_.max_header_bytes || head_lines_ > limits_.max_headers + 2) {
      head_too_large = true;
      close_after = true;
      return -1;
    }
  }
  begin_ += n;
  return static_cast<ssize_t>(n);
}

// Reads what the socket has into the buffer, waiting no later than the request's deadline.
ssize_t Connection::fill() {
  begin_ = end_ = 0;
  // A response gathered so far (100 Continue) goes out before waiting for what answers it.
  if (!output_.empty() && !flush()) return -1;
  for (;;) {
    // Mostly the bytes are there already (the worker was woken for them): read first, and
    // wait only when there is nothing.
    const ssize_t n = ::recv(fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
    if (n > 0) end_ = static_cast<std::size_t>(n);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return -1;
    pollfd fds = {fd_, POLLIN, 0};
    const int ready = ::poll(&fds, 1, remaining(read_deadline_));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      timed_out = true;
      close_after = true;
      return -1;
    }
    if (ready < 0) return -1;
  }
}

// ---- the response -------------------------------------------------------------------------------

bool Connection::is_writable() const {
  pollfd fds = {fd_, POLLOUT, 0};
  return ::poll(&fds, 1, static_cast<int>(limits_.write_timeout.count())) > 0;
}

// The engine writes a response's head and body separately: they are gathered here and sent
// together by flush(), in one segment rather than two.
ssize_t Connection::write(const char* ptr, size_t size) {
  output_.append(ptr, size);
  if (output_.size() >= max_output && !on_event_loop && !flush()) return -1;
  return static_cast<ssize_t>(size);
}

bool Connection::flush() {
  for (;;) {
    switch (send_now()) {
      case Sent::all:
        return true;
      case Sent::failed:
        return false;
      case Sent::partly:
        if (!is_writable()) {
          drop_output();
          return false;
        }
    }
  }
}

Connection::Sent Connection::send_now() {
  std::size_t sent = 0;
  while (sent < output_.size()) {
    const ssize_t n =
        ::send(fd_, output_.data() + sent, output_.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      output_.erase(0, sent);
      return Sent::partly;
    }
    drop_output();
    return Sent::failed;
  }
  output_.clear();
  return Sent::all;
}

// The response cannot be sent: it counts as not written, and the connection closes.
void Connection::drop_output() {
  output_.clear();
  written = false;
  close_after = true;
}

void Connection::get_remote_ip_and_port(std::string& ip, int& port) const {
  ip = remote_ip_;
  port = remote_port_;
}

void Connection::get_local_ip_and_port(std::string& ip, int& port) const {
  ip = local_ip_;
  port = local_port_;
}

// ---- closing ------------------------------------------------------------------------------------

void Connection::close() {
  if (fd_ < 0) return;
  if (close_after) {
    ::shutdown(fd_, SHUT_WR);
    const auto deadline = SteadyClock::now() + linger_time;
    std::size_t drained = 0;
    char sink[16384];
    while (drained < linger_bytes) {
      pollfd fds = {fd_, POLLIN, 0};
      const int ready = ::poll(&fds, 1, remaining(deadline));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) break;
      const ssize_t n = ::recv(fd_, sink, sizeof sink, MSG_DONTWAIT);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) break;
      drained += static_cast<std::size_t>(n);
    }
  }
  ::close(fd_);
  fd_ = -1;
}

}  // namespace tykhook::detail
