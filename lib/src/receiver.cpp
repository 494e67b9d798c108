#include "tykhook/receiver.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "capture_writer.h"
#include "receiver_metrics.h"
#include "request_head.h"
#include "tykhook/store.h"

namespace tykhook {
namespace {

using detail::Head;
using detail::is_delivery_method;
using detail::is_token;
using detail::parse_head;
using detail::quote;
using detail::trim;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view verdict_header = "X-Tykhook-Verdict";
// The claims of authentic deliveries that failed a later check (kept and flagged, never
// handled) live apart from the verifier's claims, so that a future-dated `stale` delivery that
// is resent in time is still processed. They only stop a resent copy from being captured again.
constexpr std::string_view kept_prefix = "kept:";
// While stopping, a connection accepted but not yet read gets this long for its request to
// arrive: long enough for a request already sent, short enough not to hold the shutdown.
constexpr milliseconds shutdown_grace{1'000};
// After a response that leaves part of a request unread (a refused body), the connection is
// closed only after reading what the client still sends for this long (at most linger_bytes):
// closing a socket with unread input resets it, and the client could lose the response.
constexpr milliseconds linger_time{1'000};
constexpr std::size_t linger_bytes = 1024 * 1024;
// How long a worker waits on a kept-alive connection for its next request before parking it.
constexpr milliseconds hold{2};
// Response bytes gathered before they are sent (Connection::write): more are sent at once.
constexpr std::size_t max_output = 64 * 1024;
// How often the event loop closes the parked connections whose time is up, at most.
constexpr milliseconds expiry_tick{10};

bool iequals(std::string_view a, std::string_view b) { return header_name_equals(a, b); }

// True when `text` is the same inside a JSON string as it is: visible ASCII, no quote or
// backslash.
bool plain_json_text(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
}

// A request target as a capture may hold it: bytes outside visible ASCII percent-encoded. Only
// the body and the signature header are verified, so the target may change this way.
std::string visible_target(std::string_view target) {
  std::string visible;
  visible.reserve(target.size());
  for (const char c : target) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte > 0x20 && byte < 0x7f) {
      visible += c;
    } else {
      static constexpr char digits[] = "0123456789ABCDEF";
      visible += '%';
      visible += digits[byte >> 4];
      visible += digits[byte & 0x0f];
    }
  }
  return visible;
}

using Sha256 = std::array<unsigned char, 32>;

Sha256 sha256(std::string_view bytes) {
  Sha256 digest{};
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    throw Error("required header: SHA-256 failed in the crypto library");
  }
  return digest;
}

// ---- the HTTP engine --------------------------------------------------------------------------

/// The HTTP/1.1 request parser and response writer. The receiver runs its own connections (the
/// engine's own loop has per-read timeouts only, no header limits and no bound on chunked
/// bodies), and hands each request to the engine's request step.
class Engine final : public httplib::Server {
 public:
  using httplib::Server::process_request;
};

// ---- the receiver's state ---------------------------------------------------------------------

class Connection;

/// Everything the receiver holds and does; Receiver is its public face.
class Service {
 public:
  Service(ReceiverOptions opts, Dispatcher handlers);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  int bind(std::string_view host, int port);
  void serve();
  void stop();
  int port() const { return bound_port; }
  std::string metrics_text() const { return metrics.render(); }
  CaptureRecovery capture_recovery() const {
    return captures ? captures->recovery() : CaptureRecovery{};
  }
  void wait_until_served();

  const ReceiverOptions& settings() const { return options; }

 private:
  void configure_engine();
  void event_loop();
  void accept_connections();
  void begin_stopping();
  void expire_parked(bool all_kept_alive);
  void worker_loop();
  bool serve_requests(Connection& connection);
  bool serve_inline(Connection& connection);
  bool end_request(Connection& connection, bool answered, bool client_closes, bool last);
  bool serve_directly(Connection& connection);
  void write_directly(Connection& connection, const httplib::Request& req, httplib::Response& res);
  bool nobody_waiting();
  void park(Connection* connection);
  void close_connection(Connection* connection);

  // The HTTP engine's callbacks; each runs on the thread of the connection it concerns.
  httplib::Server::HandlerResponse on_request_head(const httplib::Request& req,
                                                   httplib::Response& res);
  int on_expect_continue(const httplib::Request& req, httplib::Response& res);
  void on_delivery(const httplib::Request& req, httplib::Response& res,
                   const httplib::ContentReader& reader);
  httplib::Server::HandlerResponse on_error(const httplib::Request& req, httplib::Response& res);
  void on_exception(const httplib::Request& req, httplib::Response& res, std::exception_ptr error);
  void on_written(const httplib::Request& req, const httplib::Response& res);

  bool check_before_body(Connection& connection, httplib::Response& res);
  void respond(Connection& connection, httplib::Response& res, int status,
               detail::DeliveryOutcome outcome, std::optional<std::string> event,
               std::optional<Event> known_event, std::vector<std::string> errors);
  void refuse(Connection& connection, httplib::Response& res, int status,
              detail::DeliveryOutcome outcome, std::string error);
  Request for_capture(const Request& request) const;
  void release(const std::string& key, std::string& error);
  void finish(Connection& connection);

  ReceiverOptions options;
  Dispatcher dispatcher;
  Verifier verifier;
  std::unique_ptr<detail::CaptureWriter> captures;
  std::optional<Sha256> required_digest;
  detail::ReceiverMetrics metrics;
  Engine engine;
  std::function<void(httplib::Request&)> setup_request;
  std::string keep_alive_value;  // the engine's Keep-Alive response header
  // Nothing on a delivery's way waits (a store that never waits, no capture directory, no
  // handler): the event loop serves plain deliveries itself rather than wake a worker for each.
  bool serves_inline = false;

  int listen_fd = -1;
  int bound_port = 0;
  int stop_fd = -1;   // readable once stop() was called; never reset
  int epoll_fd = -1;  // the listening socket, stop_fd and the parked connections
  std::atomic<bool> stopping{false};

  // A connection is in one place at a time: parked (idle, watched for its next request),
  // ready (readable, waiting for a worker), or with a worker. Idle connections hold no worker.
  std::mutex mutex;
  std::condition_variable work_ready;
  std::condition_variable serve_done;
  std::unordered_set<Connection*> parked;
  std::deque<Connection*> ready;
  std::size_t open_connections = 0;
  bool accepting = true;  // the listening socket is watched
  SteadyClock::time_point accept_again_at{};
  bool closing = false;  // the event loop ended: workers finish what is ready, then exit
  bool serving = false;
  bool served = false;
};

thread_local Connection* current_connection = nullptr;

/// A client connection: the byte stream that the HTTP engine reads requests from, with the
/// receiver's limits on it (a deadline for each whole request, head size and line count), and
/// what the log line of the current request says.
class Connection final : public httplib::Stream {
 public:
  Connection(int fd, Service& service) : fd_(fd), service_(service) {
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
  ~Connection() override { close(); }

  // What the current request's log line says, and what the receiver decided about it.
  RequestRecord record;
  std::optional<detail::DeliveryOutcome> outcome;  // a delivery's, as record.verdict spells it
  std::optional<Event> event;                      // a delivery's known event, as record.event
  SteadyClock::time_point started{};
  bool reading_head = false;
  std::string head_bytes;
  std::size_t head_lines = 0;
  std::optional<Parsed<Head>> head;  // set once the engine has read the head
  bool head_too_large = false;
  bool timed_out = false;
  bool written = false;       // the engine wrote a response
  bool close_after = false;   // the request left input unread, or the client is gone: close
  bool last_request = false;  // the engine was told to close after this request
  enum class Framing { none, length, chunked } framing = Framing::none;
  std::size_t content_length = 0;

  // Where the connection is between requests (Service::park).
  std::size_t served = 0;                   // requests answered on it
  SteadyClock::time_point idle_deadline{};  // parked until then at most
  bool registered = false;                  // known to the event loop's epoll
  // The event loop serves it (Service::serve_inline), which must never wait: write() gathers
  // the whole response, and send_now() sends what the socket takes.
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
  bool next_request_within(milliseconds timeout) const {
    pollfd fds = {fd_, POLLIN, 0};
    return ::poll(&fds, 1, static_cast<int>(timeout.count())) > 0;
  }

  /// Starts a new request: its deadline runs from now.
  void begin_request(bool last) {
    record = RequestRecord{};
    outcome.reset();
    event.reset();
    record.time = std::chrono::time_point_cast<std::chrono::nanoseconds>(Clock::now());
    record.client = client_;
    started = SteadyClock::now();
    read_deadline = started + service_.settings().read_timeout;
    reading_head = true;
    head_bytes.clear();
    head_lines = 0;
    head.reset();
    head_too_large = timed_out = written = false;
    last_request = last;
    framing = Framing::none;
    content_length = 0;
  }

  /// Ends the head: the engine parsed it and is about to route the request.
  void end_head() { set_head(parse_head(head_bytes)); }

  /// The bytes read from the socket and not consumed yet; reads what the socket holds first
  /// when there are none, without waiting (empty when nothing has arrived, or on EOF or error,
  /// which the engine's next read meets again and reports).
  std::string_view peek() {
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
  /// Consumes the head that peek() showed: `size` bytes, parsed as `parsed`.
  void take_head(std::size_t size, Parsed<Head> parsed) {
    begin_ += size;
    set_head(std::move(parsed));
  }
  /// Consumes `size` bytes that peek() showed, and returns them (valid until the next read).
  std::string_view take(std::size_t size) {
    const std::string_view taken(buffer_.data() + begin_, std::min(size, buffered()));
    begin_ += taken.size();
    return taken;
  }

  /// Closes the connection; after a refused request, first reads what the client still sends
  /// (bounded), so that the response is not lost to a reset.
  void close() {
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

  bool is_readable() const override {
    if (buffered() > 0) return true;
    pollfd fds = {fd_, POLLIN, 0};
    return ::poll(&fds, 1, remaining(read_deadline)) > 0;
  }

  bool is_writable() const override {
    pollfd fds = {fd_, POLLOUT, 0};
    return ::poll(&fds, 1, static_cast<int>(service_.settings().write_timeout.count())) > 0;
  }

  ssize_t read(char* ptr, size_t size) override {
    if (buffered() == 0) {
      const ssize_t filled = fill();
      if (filled <= 0) return filled;
    }
    const std::size_t n = std::min(size, buffered());
    std::memcpy(ptr, buffer_.data() + begin_, n);
    if (reading_head) {
      // The engine reads the head a byte at a time, so what passes here is the head exactly.
      head_bytes.append(ptr, n);
      head_lines += static_cast<std::size_t>(std::count(ptr, ptr + n, '\n'));
      // The head has the request line, the headers and a blank line.
      if (head_bytes.size() > service_.settings().max_header_bytes ||
          head_lines > service_.settings().max_headers + 2) {
        head_too_large = true;
        close_after = true;
        return -1;
      }
    }
    begin_ += n;
    return static_cast<ssize_t>(n);
  }

  // The engine writes a response's head and body separately: they are gathered here and sent
  // together by flush(), in one segment rather than two.
  ssize_t write(const char* ptr, size_t size) override {
    output_.append(ptr, size);
    if (output_.size() >= max_output && !on_event_loop && !flush()) return -1;
    return static_cast<ssize_t>(size);
  }

  /// Sends what write() gathered, waiting up to the write timeout for the client to read;
  /// false when the client is gone or the timeout passed (the response is then not written,
  /// and the connection closes).
  bool flush() {
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

  enum class Sent { all, partly, failed };
  /// Sends what write() gathered and the socket takes without waiting; `partly` keeps the rest
  /// for the next call, `failed` (the client is gone) drops it as flush() does.
  Sent send_now() {
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

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = remote_ip_;
    port = remote_port_;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = local_ip_;
    port = local_port_;
  }
  socket_t socket() const override { return fd_; }

 private:
  static void describe(const sockaddr_storage& address, std::string& ip, int& port) {
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

  static int remaining(SteadyClock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 1'000'000'000));
  }

  std::size_t buffered() const { return end_ - begin_; }

  // The response cannot be sent: it counts as not written, and the connection closes.
  void drop_output() {
    output_.clear();
    written = false;
    close_after = true;
  }

  void set_head(Parsed<Head> parsed) {
    reading_head = false;
    head = std::move(parsed);
    if (*head) {
      record.method = (*head)->method;
      record.path = (*head)->target.substr(0, (*head)->target.find('?'));
    }
  }

  // Reads what the socket has into the buffer, waiting no later than the request's deadline.
  ssize_t fill() {
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
      const int ready = ::poll(&fds, 1, remaining(read_deadline));
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) {
        timed_out = true;
        close_after = true;
        return -1;
      }
      if (ready < 0) return -1;
    }
  }

  int fd_;
  Service& service_;
  std::string remote_ip_, local_ip_, client_;
  int remote_port_ = 0, local_port_ = 0;
  SteadyClock::time_point read_deadline{};
  std::array<char, 8192> buffer_{};
  std::size_t begin_ = 0, end_ = 0;
  std::string output_;  // written by the engine, not yet sent
};

// ---- the receiver -----------------------------------------------------------------------------

// The verifier's options, once the receiver's are checked. Message is kept only for handlers:
// nothing else of the receiver's reads it.
VerifierOptions checked(const ReceiverOptions& options, const Dispatcher& dispatcher) {
  const auto positive = [](auto value, std::string_view name) {
    if (value <= decltype(value){}) {
      throw std::invalid_argument("tykhook::Receiver: " + std::string(name) +
                                  " is 0; give a positive value");
    }
  };
  positive(options.threads, "threads");
  positive(options.max_connections, "max_connections");
  positive(options.read_timeout.count(), "read_timeout");
  positive(options.write_timeout.count(), "write_timeout");
  positive(options.keep_alive_timeout.count(), "keep_alive_timeout");
  positive(options.keep_alive_max_requests, "keep_alive_max_requests");
  positive(options.max_headers, "max_headers");
  if (options.max_header_bytes < 256) {
    throw std::invalid_argument(
        "tykhook::Receiver: max_header_bytes is under 256; allow at least 256 bytes");
  }
  if (options.required_header) {
    if (!is_token(options.required_header->name)) {
      throw std::invalid_argument("tykhook::Receiver: required header name " +
                                  quote(options.required_header->name) +
                                  " is not a token; give a name like X-Portal-Token");
    }
    if (trim(options.required_header->value).empty()) {
      throw std::invalid_argument(
          "tykhook::Receiver: the required header's value is empty; give a value");
    }
  }
  VerifierOptions verifier = options.verifier;
  verifier.keep_message = !dispatcher.empty();
  return verifier;
}

Service::Service(ReceiverOptions opts, Dispatcher handlers)
    : options(std::move(opts)),
      dispatcher(std::move(handlers)),
      verifier(checked(options, dispatcher)) {
  if (!options.capture_dir.empty()) {
    captures = std::make_unique<detail::CaptureWriter>(options.capture_dir);
  }
  serves_inline = !captures && dispatcher.empty() &&
                  (!options.verifier.store || options.verifier.store->never_waits());
  if (options.required_header) {
    // Headers arrive trimmed of surrounding white space; so is the value they are held to.
    options.required_header->value = std::string(trim(options.required_header->value));
    required_digest = sha256(options.required_header->value);
  }
  stop_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (stop_fd < 0 || epoll_fd < 0) {
    throw Error(std::string("receiver: cannot create an event descriptor: ") +
                std::strerror(errno) + "; raise the limit of open files");
  }
  configure_engine();
}

Service::~Service() {
  if (listen_fd >= 0) ::close(listen_fd);
  for (Connection* connection : parked) delete connection;
  if (stop_fd >= 0) ::close(stop_fd);
  if (epoll_fd >= 0) ::close(epoll_fd);
}

void Service::configure_engine() {
  // A body is read only by on_delivery, which enforces max_body itself (chunked bodies too);
  // this limit covers whatever else the engine might read.
  engine.set_payload_max_length(options.verifier.max_body);
  // The engine writes these values into Keep-Alive response headers.
  const long long keep_alive_seconds =
      std::max<long long>(1, (options.keep_alive_timeout.count() + 999) / 1000);
  engine.set_keep_alive_max_count(options.keep_alive_max_requests);
  engine.set_keep_alive_timeout(static_cast<time_t>(keep_alive_seconds));
  keep_alive_value = "timeout=" + std::to_string(keep_alive_seconds) +
                     ", max=" + std::to_string(options.keep_alive_max_requests);
  engine.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    return on_request_head(req, res);
  });
  engine.set_expect_100_continue_handler(
      [this](const httplib::Request& req, httplib::Response& res) {
        return on_expect_continue(req, res);
      });
  const httplib::Server::HandlerWithContentReader delivery =
      [this](const httplib::Request& req, httplib::Response& res,
             const httplib::ContentReader& reader) { on_delivery(req, res, reader); };
  engine.Post(".*", delivery);
  engine.Put(".*", delivery);
  engine.Patch(".*", delivery);
  engine.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) { return on_error(req, res); }));
  engine.set_exception_handler(
      [this](const httplib::Request& req, httplib::Response& res, std::exception_ptr error) {
        on_exception(req, res, std::move(error));
      });
  engine.set_logger(
      [this](const httplib::Request& req, const httplib::Response& res) { on_written(req, res); });
  setup_request = [](httplib::Request& req) {
    // Ranges apply to files; a delivery's answer is never cut into parts.
    req.ranges.clear();
    if (current_connection != nullptr) current_connection->end_head();
  };
}

void Service::respond(Connection& connection, httplib::Response& res, int status,
                      detail::DeliveryOutcome outcome, std::optional<std::string> event,
                      std::optional<Event> known_event, std::vector<std::string> errors) {
  const std::string_view verdict = detail::to_string(outcome);
  res.status = status;
  res.set_header(std::string(verdict_header), std::string(verdict));
  if (errors.empty() && plain_json_text(verdict) && (!event || plain_json_text(*event))) {
    // The answer to most deliveries: the same bytes as below, without building a document.
    std::string body = R"({"verdict":")";
    body.append(verdict).append(event ? R"(","event":")" : R"(","event":null})");
    if (event) body.append(*event).append(R"("})");
    res.set_content(body, "application/json");
  } else {
    nlohmann::ordered_json body;
    body["verdict"] = verdict;
    body["event"] = event ? nlohmann::ordered_json(*event) : nullptr;
    if (!errors.empty()) body["errors"] = errors;
    res.set_content(body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace),
                    "application/json");
  }
  if (connection.close_after && !connection.last_request) res.set_header("Connection", "close");
  connection.record.status = status;
  connection.record.verdict = std::string(verdict);
  connection.record.event = std::move(event);
  connection.outcome = outcome;
  connection.event = known_event;
}

void Service::refuse(Connection& connection, httplib::Response& res, int status,
                     detail::DeliveryOutcome outcome, std::string error) {
  // The body is left unread, so the connection cannot carry another request.
  connection.close_after = true;
  respond(connection, res, status, outcome, std::nullopt, std::nullopt, {std::move(error)});
}

bool Service::check_before_body(Connection& connection, httplib::Response& res) {
  if (!connection.head || !*connection.head) {
    refuse(connection, res, 400, VerdictKind::malformed_request,
           connection.head ? connection.head->error : "request: the head could not be read");
    return false;
  }
  const Head& head = **connection.head;
  if (options.required_header) {
    const std::string& name = options.required_header->name;
    const auto values = head.values(name);
    if (values.empty()) {
      refuse(connection, res, 401, ReceiverOutcome::rejected,
             name + ": required header missing; add it to the webhook's custom headers");
      return false;
    }
    // Digests of equal length, compared in constant time: neither the value nor its length
    // can be learnt from the time a refusal takes.
    const Sha256 given = sha256(values.front());
    if (values.size() > 1 || CRYPTO_memcmp(given.data(), required_digest->data(), 32) != 0) {
      refuse(connection, res, 401, ReceiverOutcome::rejected,
             name + ": does not have the required value; check the webhook's custom headers");
      return false;
    }
  }

  const auto malformed = [&](std::string error) {
    refuse(connection, res, 400, VerdictKind::malformed_request, std::move(error));
    return false;
  };
  const auto encodings = head.values("Transfer-Encoding");
  const auto lengths = head.values("Content-Length");
  for (const auto coding : head.values("Content-Encoding")) {
    if (!iequals(coding, "identity")) {
      return malformed("Content-Encoding: " + quote(coding) +
                       " is not accepted; the signature covers the body as sent, uncompressed");
    }
  }
  if (!encodings.empty() && !lengths.empty()) {
    return malformed(
        "Transfer-Encoding and Content-Length: both given (request smuggling); send one");
  }
  if (encodings.size() > 1 || (encodings.size() == 1 && !iequals(encodings.front(), "chunked"))) {
    return malformed("Transfer-Encoding: only \"chunked\" is accepted; send the body as is");
  }
  if (lengths.size() > 1) {
    return malformed("Content-Length: appears " + std::to_string(lengths.size()) +
                     " times; send it once");
  }
  connection.framing = encodings.empty() ? Connection::Framing::none : Connection::Framing::chunked;
  if (lengths.size() == 1) {
    const std::string_view text = lengths.front();
    if (text.empty() || text.size() > 18 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return malformed("Content-Length: " + quote(text) + " is not a byte count");
    }
    connection.content_length = std::stoull(std::string(text));
    connection.framing = Connection::Framing::length;
    if (connection.content_length > options.verifier.max_body) {
      refuse(connection, res, 413, VerdictKind::too_large,
             "body: Content-Length " + std::string(text) + " is over the limit of " +
                 std::to_string(options.verifier.max_body) +
                 " bytes; raise the body limit (--max-body) if this delivery is real");
      return false;
    }
  }
  return true;
}

httplib::Server::HandlerResponse Service::on_request_head(const httplib::Request& req,
                                                          httplib::Response& res) {
  using httplib::Server;
  Connection& connection = *current_connection;
  if (is_delivery_method(req.method)) return Server::HandlerResponse::Unhandled;

  const auto json = [&](int status, const nlohmann::ordered_json& body) {
    res.status = status;
    res.set_content(body.dump(), "application/json");
  };
  if (!connection.head || !*connection.head) {
    connection.close_after = true;
    json(400, {{"error", connection.head ? connection.head->error : "request: unreadable"}});
    return Server::HandlerResponse::Handled;
  }
  // These requests carry no body that anyone reads: one sent anyway ends the connection.
  const Head& head = **connection.head;
  if (!head.values("Transfer-Encoding").empty() ||
      std::any_of(head.headers.begin(), head.headers.end(), [](const Header& header) {
        return header_name_equals(header.name, "Content-Length") && header.value != "0";
      })) {
    connection.close_after = true;
  }
  if (req.method == "HEAD") {
    // The portal's Test Connection: a HEAD on the webhook's URL, without its custom headers.
    res.status = 200;
  } else if (req.method == "GET" && req.path == "/healthz") {
    json(200, {{"status", "ok"}});
  } else if (req.method == "GET" && req.path == "/metrics") {
    res.status = 200;
    res.set_content(metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
  } else if (req.method == "GET") {
    json(404, {{"error", "not found; deliveries are POST, PUT or PATCH on any path"}});
  } else {
    res.set_header("Allow", "GET, HEAD, POST, PUT, PATCH");
    json(405, {{"error", req.method + " is not served; deliveries are POST, PUT or PATCH"}});
  }
  if (connection.close_after && !connection.last_request) res.set_header("Connection", "close");
  return Server::HandlerResponse::Handled;
}

int Service::on_expect_continue(const httplib::Request& req, httplib::Response& res) {
  // A client that waits for "100 Continue" learns of a refusal before it sends the body.
  if (!is_delivery_method(req.method)) return 100;
  return check_before_body(*current_connection, res) ? 100 : res.status;
}

Request Service::for_capture(const Request& request) const {
  Request capture = request;
  capture.target = visible_target(request.target);
  // The required header is a credential of the transport, not part of the delivery: a capture
  // re-verifies without it, and holds no secret.
  if (options.required_header) {
    for (auto& header : capture.headers) {
      if (header_name_equals(header.name, options.required_header->name)) {
        header.value = "[redacted]";
      }
    }
  }
  return capture;
}

void Service::release(const std::string& key, std::string& error) {
  if (key.empty() || !options.verifier.store) return;
  try {
    options.verifier.store->release(key);
  } catch (const std::exception& failure) {
    error += std::string("; releasing its claim failed too: ") + failure.what();
  }
}

void Service::on_delivery(const httplib::Request& /*req: the raw head is used*/,
                          httplib::Response& res, const httplib::ContentReader& reader) {
  Connection& connection = *current_connection;
  if (!check_before_body(connection, res)) return;
  const Head& head = **connection.head;

  std::string body;
  if (connection.framing != Connection::Framing::none) {
    if (connection.framing == Connection::Framing::length) body.reserve(connection.content_length);
    bool over = false;
    const std::size_t max_body = options.verifier.max_body;
    const bool complete = reader([&](const char* data, std::size_t size) {
      if (size > max_body - body.size()) {
        over = true;
        return false;
      }
      body.append(data, size);
      return true;
    });
    if (over) {
      refuse(connection, res, 413, VerdictKind::too_large,
             "body: over the limit of " + std::to_string(max_body) +
                 " bytes; raise the body limit (--max-body) if this delivery is real");
      return;
    }
    if (!complete) {
      refuse(connection, res, 400, VerdictKind::malformed_request,
             connection.timed_out
                 ? "body: not received within the read timeout of " +
                       std::to_string(options.read_timeout.count()) +
                       " ms; send the request at once"
                 : "body: incomplete or badly framed; send Content-Length bytes, or valid chunks");
      return;
    }
  }

  Request request{.method = head.method,
                  .target = head.target,
                  .headers = head.headers,
                  .body = std::move(body)};
  const TimePoint now = std::chrono::time_point_cast<std::chrono::nanoseconds>(Clock::now());
  const auto unavailable = [&](std::string error, const Verdict* verdict) {
    connection.record.error = std::move(error);
    respond(connection, res, 503, ReceiverOutcome::error,
            verdict ? verdict->event_name : std::nullopt, verdict ? verdict->event : std::nullopt,
            {"the receiver cannot keep this delivery now; send it again later"});
  };

  Verdict verdict;
  try {
    verdict = verifier.verify(request, now);
  } catch (const Error& failure) {
    // The store failed: the delivery must not be acknowledged, or it would be lost.
    metrics.count_store_error();
    unavailable(failure.what(), nullptr);
    return;
  }

  const VerdictKind kind = verdict.kind;
  if (is_authentic(kind) && kind != VerdictKind::duplicate && captures) {
    std::string claim;  // the claim to release if the capture cannot be written
    bool keep = true;
    if (options.verifier.store) {
      if (kind == VerdictKind::ok) {
        claim = verdict.idempotency_key;
      } else {
        claim = std::string(kept_prefix) + verdict.idempotency_key;
        try {
          keep = options.verifier.store->claim(claim, options.verifier.store_ttl);
        } catch (const Error& failure) {
          metrics.count_store_error();
          unavailable(failure.what(), &verdict);
          return;
        }
      }
    }
    if (keep) {
      try {
        captures->write(for_capture(request), now, verdict.idempotency_key);
      } catch (const std::exception& failure) {
        metrics.count_capture_error();
        std::string error = failure.what();
        release(claim, error);
        unavailable(std::move(error), &verdict);
        return;
      }
    }
  }

  if (kind == VerdictKind::ok) {
    std::optional<std::string> failure_text;
    try {
      dispatcher.dispatch(verdict);
    } catch (const std::exception& failure) {
      failure_text = failure.what();
    } catch (...) {
      failure_text = "an exception that is not a std::exception";
    }
    if (failure_text) {
      metrics.count_handler_error();
      std::string error =
          "handler of " + verdict.event_name.value_or("the delivery") + " failed: " + *failure_text;
      // Released, so that the same delivery sent again is processed again, not a duplicate.
      if (options.verifier.store) release(verdict.idempotency_key, error);
      connection.record.error = std::move(error);
      respond(connection, res, 500, ReceiverOutcome::error, verdict.event_name, verdict.event,
              {"the handler failed; the delivery was kept, and sending it again processes it "
               "again"});
      return;
    }
  }
  respond(connection, res, http_status(kind, options.reject_invalid), kind, verdict.event_name,
          verdict.event, std::move(verdict.errors));
}

httplib::Server::HandlerResponse Service::on_error(const httplib::Request& req,
                                                   httplib::Response& res) {
  // Responses that the receiver wrote itself are complete; this fills in the engine's own
  // refusals (a head that could not be parsed, or over the limits).
  if (res.has_header(std::string(verdict_header)) || !res.body.empty()) {
    return httplib::Server::HandlerResponse::Unhandled;
  }
  Connection* connection = current_connection;
  std::string error = "request: cannot be parsed as HTTP/1.1; check the request line and headers";
  if (connection != nullptr) {
    connection->close_after = true;
    if (connection->head_too_large) {
      error = "headers: over " + std::to_string(options.max_header_bytes) + " bytes or " +
              std::to_string(options.max_headers) + " lines; send fewer headers";
    } else if (connection->timed_out) {
      error = "headers: not received within the read timeout of " +
              std::to_string(options.read_timeout.count()) + " ms; send the request at once";
    } else if (res.status == 414) {
      error = "request line: the target is too long; shorten the URL";
    }
  }
  if (is_delivery_method(req.method) && connection != nullptr) {
    const bool too_large = res.status == 413;
    respond(*connection, res, too_large ? 413 : 400,
            too_large ? VerdictKind::too_large : VerdictKind::malformed_request, std::nullopt,
            std::nullopt, {std::move(error)});
  } else {
    res.set_content(nlohmann::ordered_json{{"error", error}}.dump(), "application/json");
  }
  return httplib::Server::HandlerResponse::Handled;
}

void Service::on_exception(const httplib::Request& req, httplib::Response& res,
                           std::exception_ptr error) {
  std::string what = "an exception that is not a std::exception";
  try {
    std::rethrow_exception(std::move(error));
  } catch (const std::exception& failure) {
    what = failure.what();
  } catch (...) {
  }
  Connection* connection = current_connection;
  if (connection == nullptr) {
    res.status = 500;
    return;
  }
  connection->close_after = true;
  connection->record.error = "internal error: " + what;
  if (is_delivery_method(req.method)) {
    respond(*connection, res, 500, ReceiverOutcome::error, std::nullopt, std::nullopt,
            {"internal error; the delivery was not processed, send it again"});
  } else {
    res.status = 500;
    res.set_content(R"({"error":"internal error"})", "application/json");
  }
}

void Service::on_written(const httplib::Request& req, const httplib::Response& res) {
  Connection* connection = current_connection;
  if (connection == nullptr) return;
  connection->written = true;
  connection->record.status = res.status;
  if (connection->record.method.empty()) {
    connection->record.method = req.method;
    connection->record.path = req.path;
  }
}

void Service::finish(Connection& connection) {
  RequestRecord& record = connection.record;
  if (!connection.written && record.status == 0) return;  // nothing was read, nothing answered
  if (!connection.written && record.error.empty()) {
    record.error = "the client left before the response was written";
  }
  record.duration = std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() -
                                                                          connection.started);
  metrics.count_response(record.status);
  if (connection.outcome) {
    metrics.count_delivery(connection.event, record.event.has_value(), *connection.outcome,
                           record.duration);
  }
  if (options.on_request) {
    try {
      options.on_request(record);
    } catch (...) {
      // A logger that fails must not take the connection's thread down with it.
    }
  }
}

// ---- connections and workers ------------------------------------------------------------------

void Service::park(Connection* connection) {
  const auto now = SteadyClock::now();
  const std::lock_guard lock(mutex);
  if (connection->served == 0) {
    // A new connection gets the read timeout for its first byte; while stopping, less.
    connection->idle_deadline = now + options.read_timeout;
    if (stopping.load())
      connection->idle_deadline = std::min(connection->idle_deadline, now + shutdown_grace);
  } else {
    connection->idle_deadline = now + options.keep_alive_timeout;
  }
  parked.insert(connection);
  // One-shot: the first readiness hands the connection to one worker, and no other.
  epoll_event event{};
  event.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
  event.data.ptr = connection;
  ::epoll_ctl(epoll_fd, connection->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
              connection->descriptor(), &event);
  connection->registered = true;
}

void Service::close_connection(Connection* connection) {
  delete connection;  // closes the socket (lingering after a refused body)
  const std::lock_guard lock(mutex);
  --open_connections;
}

void Service::accept_connections() {
  for (;;) {
    {
      std::unique_lock lock(mutex);
      if (open_connections >= options.max_connections) {
        // Full: if a connection waits, the kept-alive connection idle the longest makes room;
        // if there is none, new connections wait in the kernel's queue until one closes or
        // becomes idle (the event loop tries again on its tick).
        pollfd waiting = {listen_fd, POLLIN, 0};
        if (::poll(&waiting, 1, 0) <= 0) return;
        Connection* oldest = nullptr;
        for (Connection* candidate : parked) {
          if (candidate->served > 0 &&
              (oldest == nullptr || candidate->idle_deadline < oldest->idle_deadline)) {
            oldest = candidate;
          }
        }
        if (oldest == nullptr) {
          epoll_event event{};
          ::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, listen_fd, &event);
          accepting = false;
          return;
        }
        parked.erase(oldest);
        ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, oldest->descriptor(), nullptr);
        lock.unlock();
        close_connection(oldest);
      }
    }
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors or memory: retry a little later rather than spin on the socket.
        const std::lock_guard lock(mutex);
        epoll_event event{};
        ::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, listen_fd, &event);
        accepting = false;
        accept_again_at = SteadyClock::now() + milliseconds(100);
      }
      return;
    }
    // Without it every response on a kept-alive connection waits for the client's delayed
    // ACK, about 40 ms (PERF-NOTES.md, "The HTTP layer").
    const int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    auto* connection = new Connection(fd, *this);
    {
      const std::lock_guard lock(mutex);
      ++open_connections;
    }
    park(connection);
  }
}

void Service::begin_stopping() {
  // Connections that the kernel completed before the stop are served, not reset: the portal
  // does not resend a delivery that failed.
  for (int fd; (fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) {
    const int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    {
      const std::lock_guard lock(mutex);
      ++open_connections;
    }
    park(new Connection(fd, *this));
  }
  ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, listen_fd, nullptr);
  ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, stop_fd, nullptr);
  ::close(listen_fd);
  listen_fd = -1;
  const auto grace_end = SteadyClock::now() + shutdown_grace;
  const std::lock_guard lock(mutex);
  for (Connection* connection : parked) {
    connection->idle_deadline = std::min(connection->idle_deadline, grace_end);
  }
}

void Service::expire_parked(bool all_kept_alive) {
  const auto now = SteadyClock::now();
  std::vector<Connection*> expired;
  {
    const std::lock_guard lock(mutex);
    for (auto it = parked.begin(); it != parked.end();) {
      Connection* connection = *it;
      if (now >= connection->idle_deadline || (all_kept_alive && connection->served > 0)) {
        ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, connection->descriptor(), nullptr);
        expired.push_back(connection);
        it = parked.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (Connection* connection : expired) close_connection(connection);
}

void Service::event_loop() {
  const auto watch = [this](int fd, void* marker) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.ptr = marker;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
  };
  watch(listen_fd, &listen_fd);
  watch(stop_fd, &stop_fd);
  bool stop_seen = false;
  SteadyClock::time_point next_expiry{};
  for (;;) {
    std::array<epoll_event, 64> events{};
    // Parked connections expire on this tick; while stopping, the loop ends on it.
    const int count = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()),
                                   stop_seen ? 10 : 100);
    for (int i = 0; i < count; ++i) {
      void* marker = events[static_cast<std::size_t>(i)].data.ptr;
      if (marker == &listen_fd) {
        accept_connections();
      } else if (marker == &stop_fd) {
        if (!stop_seen) begin_stopping();
        stop_seen = true;
      } else {
        auto* connection = static_cast<Connection*>(marker);
        {
          const std::lock_guard lock(mutex);
          if (parked.erase(connection) == 0) continue;
        }
        if (serves_inline && serve_inline(*connection)) continue;
        const std::lock_guard lock(mutex);
        ready.push_back(connection);
        work_ready.notify_one();
      }
    }
    // While stopping, idle kept-alive connections close; new ones get their grace.
    if (const auto now = SteadyClock::now(); count == 0 || now >= next_expiry) {
      expire_parked(stop_seen);
      next_expiry = now + expiry_tick;
    }
    const std::lock_guard lock(mutex);
    if (stop_seen && open_connections == 0) return;
    if (!accepting && !stop_seen && SteadyClock::now() >= accept_again_at) {
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.ptr = &listen_fd;
      ::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, listen_fd, &event);
      accepting = true;
    }
  }
}

// ---- plain deliveries, served without the engine ----------------------------------------------

/// The engine's reason phrases, for the statuses that a delivery's answer has.
std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 413:
      return "Payload Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

/// Serves the request at the front of the connection itself when it is a plain delivery that
/// has arrived whole (detail::plain_delivery): it takes the same steps (on_delivery) and gets
/// the same bytes back as through the engine, whose request step costs as much CPU as the whole
/// verification. Anything else returns false having consumed nothing, and the engine serves it.
bool Service::serve_directly(Connection& connection) {
  std::optional<detail::PlainDelivery> plain =
      detail::plain_delivery(connection.peek(), options.max_header_bytes, options.max_headers);
  if (!plain) return false;
  const std::size_t body_size = plain->body_size;
  httplib::Request req;  // what on_error, on_exception and on_written read of it
  req.method = plain->head.method;
  req.target = plain->head.target;
  req.version = "HTTP/1.1";
  connection.take_head(plain->head_size, Parsed<Head>{std::move(plain->head), {}});
  httplib::Response res;
  const httplib::ContentReader reader(
      [&](const httplib::ContentReceiver& receive) {
        const std::string_view body = connection.take(body_size);
        return body.empty() || receive(body.data(), body.size());
      },
      [](const httplib::MultipartContentHeader&, const httplib::ContentReceiver&) {
        return false;
      });
  try {
    on_delivery(req, res, reader);
  } catch (...) {
    on_exception(req, res, std::current_exception());
  }
  write_directly(connection, req, res);
  return true;
}

/// Writes `res` as the engine writes the answer to a request on a connection that stays open
/// (serve_directly leaves the last request of a connection to the engine).
void Service::write_directly(Connection& connection, const httplib::Request& req,
                             httplib::Response& res) {
  if (res.status == -1) res.status = 200;
  if (res.status >= 400) on_error(req, res);
  res.set_header("Keep-Alive", keep_alive_value);
  if (!res.has_header("Content-Type") && !res.body.empty()) {
    res.set_header("Content-Type", "text/plain");
  }
  res.set_header("Content-Length", std::to_string(res.body.size()));
  std::string out = "HTTP/1.1 ";
  out.append(std::to_string(res.status)).append(" ").append(reason_phrase(res.status));
  out.append("\r\n");
  for (const auto& [name, value] : res.headers)
    out.append(name).append(": ").append(value).append("\r\n");
  out.append("\r\n").append(res.body);
  connection.write(out.data(), out.size());
  on_written(req, res);
}

// What a failure while writing a response leaves: the engine catches what routing throws.
void failed_writing(Connection& connection, const std::exception& failure) {
  connection.record.error = std::string("internal error: ") + failure.what();
  connection.close_after = true;
}

bool Service::serve_requests(Connection& connection) {
  for (;;) {
    const bool last = connection.served + 1 >= options.keep_alive_max_requests || stopping.load();
    connection.begin_request(last);
    bool client_closes = false;
    bool answered = false;
    try {
      answered = (!last && serve_directly(connection)) ||
                 engine.process_request(connection, last, client_closes, setup_request);
    } catch (const std::exception& failure) {
      failed_writing(connection, failure);
    }
    if (!end_request(connection, answered, client_closes, last)) return false;
    // A request sent right behind the last one is already read: epoll would not report it.
    if (!connection.has_buffered_input()) return true;
  }
}

/// Ends the request just answered on `connection`: sends the rest of its response, counts and
/// logs it. Returns whether the connection stays open for another request.
bool Service::end_request(Connection& connection, bool answered, bool client_closes, bool last) {
  connection.flush();
  finish(connection);
  ++connection.served;
  return answered && !client_closes && !last && !connection.close_after;
}

/// Serves on the event loop's thread (serves_inline) the plain deliveries that have arrived
/// whole on `connection`, never waiting, then parks it. Returns false when a worker must take
/// the connection: its next request is not a plain delivery that has arrived whole, or is its
/// last; or `pending` says what is left to do (a response the client did not take at once, or
/// closing it).
bool Service::serve_inline(Connection& connection) {
  current_connection = &connection;
  connection.on_event_loop = true;
  bool handled = false;
  for (;;) {
    if (connection.served + 1 >= options.keep_alive_max_requests || stopping.load()) break;
    connection.begin_request(false);
    bool answered = false;
    try {
      if (!serve_directly(connection)) break;
      answered = true;
    } catch (const std::exception& failure) {
      failed_writing(connection, failure);
    }
    if (connection.send_now() == Connection::Sent::partly) {
      connection.pending = Connection::Pending::send;
      break;
    }
    if (!end_request(connection, answered, false, false)) {
      connection.pending = Connection::Pending::close;
      break;
    }
    if (!connection.has_buffered_input()) {
      handled = true;
      break;
    }
  }
  connection.on_event_loop = false;
  current_connection = nullptr;
  if (handled) park(&connection);
  return handled;
}

bool Service::nobody_waiting() {
  const std::lock_guard lock(mutex);
  return ready.empty();
}

void Service::worker_loop() {
  for (;;) {
    Connection* connection = nullptr;
    {
      std::unique_lock lock(mutex);
      work_ready.wait(lock, [this] { return !ready.empty() || closing; });
      if (ready.empty()) return;  // closing, and nothing left to serve
      connection = ready.front();
      ready.pop_front();
    }
    current_connection = connection;
    bool keep = false;
    switch (std::exchange(connection->pending, Connection::Pending::none)) {
      case Connection::Pending::none:
        keep = serve_requests(*connection);
        break;
      case Connection::Pending::send:
        keep = end_request(*connection, true, false, false) &&
               (!connection->has_buffered_input() || serve_requests(*connection));
        break;
      case Connection::Pending::close:
        break;
    }
    // A kept-alive client mostly sends its next request as soon as it has the answer: while no
    // other connection waits for a worker, wait a moment for it here rather than park it and
    // have the event loop hand it back.
    while (keep && !stopping.load() && nobody_waiting() && connection->next_request_within(hold)) {
      keep = serve_requests(*connection);
    }
    current_connection = nullptr;
    if (keep && !stopping.load()) {
      park(connection);
    } else {
      close_connection(connection);
    }
  }
}

void Service::serve() {
  {
    std::lock_guard lock(mutex);
    if (listen_fd < 0 || serving || served) {
      throw std::invalid_argument(
          served || serving ? "tykhook::Receiver::serve: already served; make a new Receiver"
                            : "tykhook::Receiver::serve: not bound; call bind() first");
    }
    serving = true;
  }
  std::vector<std::thread> workers;
  workers.reserve(options.threads);
  for (std::size_t i = 0; i < options.threads; ++i) workers.emplace_back([this] { worker_loop(); });
  event_loop();
  {
    std::lock_guard lock(mutex);
    closing = true;
  }
  work_ready.notify_all();
  for (auto& worker : workers) worker.join();
  {
    std::lock_guard lock(mutex);
    serving = false;
    served = true;
  }
  serve_done.notify_all();
}

void Service::wait_until_served() {
  std::unique_lock lock(mutex);
  serve_done.wait(lock, [this] { return !serving; });
}

int Service::bind(std::string_view host, int port) {
  {
    std::lock_guard lock(mutex);
    if (listen_fd >= 0 || serving || served) {
      throw std::invalid_argument("tykhook::Receiver::bind: already bound; make a new Receiver");
    }
  }
  if (port < 0 || port > 65535) {
    throw std::invalid_argument("tykhook::Receiver::bind: port " + std::to_string(port) +
                                " is out of range; give 0 to 65535");
  }
  const std::string host_text(host);
  const std::string where =
      (host_text.find(':') == std::string::npos ? host_text : "[" + host_text + "]") + ":" +
      std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int error = ::getaddrinfo(host_text.empty() ? nullptr : host_text.c_str(),
                                      std::to_string(port).c_str(), &hints, &found);
      error != 0) {
    throw Error(where + ": cannot resolve the host: " + ::gai_strerror(error) +
                "; give an address of this machine, e.g. 127.0.0.1");
  }
  int fd = -1;
  int error = 0;
  for (const addrinfo* address = found; address != nullptr && fd < 0; address = address->ai_next) {
    fd = ::socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      error = errno;
      continue;
    }
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (::bind(fd, address->ai_addr, address->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
      error = errno;
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) {
    throw Error(where + ": cannot listen: " + std::strerror(error) +
                (error == EADDRINUSE ? "; stop the program that uses the port, or choose another"
                                     : "; check the host and the port"));
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  bound_port = bound.ss_family == AF_INET6
                   ? ntohs(reinterpret_cast<const sockaddr_in6&>(bound).sin6_port)
                   : ntohs(reinterpret_cast<const sockaddr_in&>(bound).sin_port);
  listen_fd = fd;
  return bound_port;
}

void Service::stop() {
  {
    std::lock_guard lock(mutex);
    if (stopping.exchange(true)) return;
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(stop_fd, &one, sizeof one);
}

}  // namespace

// ---- the public face --------------------------------------------------------------------------

std::string_view to_string(ReceiverOutcome outcome) {
  switch (outcome) {
    case ReceiverOutcome::rejected:
      return "rejected";
    case ReceiverOutcome::error:
      return "error";
  }
  return "";  // unreachable for a valid enumerator; -Wall flags a missing case above
}

struct Receiver::Impl {
  Impl(ReceiverOptions options, Dispatcher dispatcher)
      : service(std::move(options), std::move(dispatcher)) {}
  Service service;
};

Receiver::Receiver(ReceiverOptions options, Dispatcher dispatcher)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(dispatcher))) {}

Receiver::~Receiver() {
  impl_->service.stop();
  impl_->service.wait_until_served();
}

int Receiver::bind(std::string_view host, int port) { return impl_->service.bind(host, port); }

void Receiver::serve() { impl_->service.serve(); }

void Receiver::listen(std::string_view host, int port) {
  bind(host, port);
  serve();
}

void Receiver::stop() { impl_->service.stop(); }

int Receiver::port() const { return impl_->service.port(); }

std::string Receiver::metrics() const { return impl_->service.metrics_text(); }

CaptureRecovery Receiver::capture_recovery() const { return impl_->service.capture_recovery(); }

}  // namespace tykhook
