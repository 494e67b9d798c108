#pragma once

// Private to the library: one client connection of the receiver, the byte stream that the HTTP
// engine reads requests from and writes responses to, with the receiver's limits on it.

#include <httplib.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "inspector_log.h"
#include "receiver_metrics.h"
#include "request_head.h"
#include "tykhook/receiver.h"

namespace tykhook::detail {

/// The limits that a connection holds each request to.
struct ConnectionLimits {
  /// A request's line, headers and body must all arrive within this time of its first byte.
  std::chrono::milliseconds read_timeout{};
  /// The longest a write of the response may wait for the client to read.
  std::chrono::milliseconds write_timeout{};
  std::size_t max_header_bytes = 0;  ///< request line and headers together, at most
  std::size_t max_headers = 0;       ///< header lines per request, at most
};

/// A client connection: the byte stream that the HTTP engine reads requests from, with a
/// deadline for each whole request and limits on its head, and what the log line of the current
/// request says. It closes its socket when destroyed.
class Connection final : public httplib::Stream {
 public:
  using SteadyClock = std::chrono::steady_clock;

  /// Takes ownership of the connected socket `fd`.
  Connection(int fd, const ConnectionLimits& limits);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // What the current request's log line says, and what the receiver decided about it.
  RequestRecord record;
  std::optional<DeliveryOutcome> outcome;    // a delivery's, as record.verdict spells it
  std::optional<Event> event;                // a delivery's known event, as record.event names it
  std::vector<std::string> errors;           // a delivery's verdict errors (for the inspector)
  std::shared_ptr<DeliveryDetails> details;  // a delivery's request (when the inspector is on)
  SteadyClock::time_point started{};
  std::optional<Parsed<Head>> head;  // set once the engine has read the head
  bool head_too_large = false;
  bool timed_out = false;
  bool written = false;       // the engine wrote a response
  bool close_after = false;   // the request left input unread, or the client is gone: close
  bool last_request = false;  // the engine was told to close after this request
  enum class Framing { none, length, chunked } framing = Framing::none;
  std::size_t content_length = 0;

  // Where the connection is between requests (ConnectionLoop::park).
  std::size_t served = 0;                   // requests answered on it
  SteadyClock::time_point idle_deadline{};  // parked until then at most
  bool registered = false;                  // known to the event loop's epoll
  // The event loop serves it, which must never wait: write() gathers the whole response, and
  // send_now() sends what the socket takes.
  bool on_event_loop = false;
  // What the event loop left for a worker to do before the connection's next request.
  enum class Pending {
    none,
    send,   // the rest of a response that the client did not take at once; then finish it
    close,  // close it (closing may linger, reading what the client still sends)
  } pending = Pending::none;

  int descriptor() const { return fd_; }
  /// True when a further request is already buffered (pipelined behind the last one).
  bool has_buffered_input() const { return buffered() > 0; }
  /// True when the next request's first byte arrives within `timeout` (or the client closes).
  bool next_request_within(std::chrono::milliseconds timeout) const;

  /// Starts a new request: its deadline runs from now.
  void begin_request(bool last);
  /// Ends the head: the engine parsed it and is about to route the request.
  void end_head() { set_head(parse_head(head_bytes_)); }

  /// The bytes read from the socket and not consumed yet; reads what the socket holds first
  /// when there are none, without waiting (empty when nothing has arrived, or on EOF or error,
  /// which the engine's next read meets again and reports).
  std::string_view peek();
  /// Consumes the head that peek() showed: `size` bytes, parsed as `parsed`.
  void take_head(std::size_t size, Parsed<Head> parsed);
  /// Consumes `size` bytes that peek() showed, and returns them (valid until the next read).
  std::string_view take(std::size_t size);

  /// Closes the connection; after a refused request, first reads what the client still sends
  /// (bounded), so that the response is not lost to a reset.
  void close();

  /// Sends what write() gathered, waiting up to the write timeout for the client to read;
  /// false when the client is gone or the timeout passed (the response is then not written,
  /// and the connection closes).
  bool flush();
  enum class Sent { all, partly, failed };
  /// Sends what write() gathered and the socket takes without waiting; `partly` keeps the rest
  /// for the next call, `failed` (the client is gone) drops it as flush() does.
  Sent send_now();

  // httplib::Stream
  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return fd_; }

 private:
  std::size_t buffered() const { return end_ - begin_; }
  void drop_output();
  void set_head(Parsed<Head> parsed);
  ssize_t fill();

  int fd_;
  ConnectionLimits limits_;
  std::string remote_ip_, local_ip_, client_;
  int remote_port_ = 0, local_port_ = 0;
  SteadyClock::time_point read_deadline_{};
  bool reading_head_ = false;
  std::string head_bytes_;
  std::size_t head_lines_ = 0;
  std::array<char, 8192> buffer_{};
  std::size_t begin_ = 0, end_ = 0;
  std::string output_;  // written by the engine, not yet sent
};

}  // namespace tykhook::detail
