#include "connection_loop.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tykhook/error.h"

namespace tykhook::detail {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// While stopping, a connection accepted but not yet read gets this long for its request to
// arrive: long enough for a request already sent, short enough not to hold the shutdown.
constexpr milliseconds shutdown_grace{1'000};
// How long a worker waits on a kept-alive connection for its next request before parking it.
constexpr milliseconds hold{2};
// How often the event loop closes the parked connections whose time is up, at most.
constexpr milliseconds expiry_tick{10};

}  // namespace

ConnectionLoop::ConnectionLoop(ConnectionLoopOptions options, ConnectionServer server)
    : options_(std::move(options)), server_(std::move(server)) {
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (stop_fd_ < 0 || epoll_fd_ < 0) {
    const int error = errno;
    if (stop_fd_ >= 0) ::close(stop_fd_);
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
    throw Error(std::string("receiver: cannot create an event descriptor: ") +
                std::strerror(error) + "; raise the limit of open files");
  }
}

ConnectionLoop::~ConnectionLoop() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
  for (Connection* connection : parked_) delete connection;
  ::close(stop_fd_);
  ::close(epoll_fd_);
}

int ConnectionLoop::bind(std::string_view host, int port) {
  {
    std::lock_guard lock(mutex_);
    if (listen_fd_ >= 0 || serving_ || served_) {
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
  port_ = bound.ss_family == AF_INET6
              ? ntohs(reinterpret_cast<const sockaddr_in6&>(bound).sin6_port)
              : ntohs(reinterpret_cast<const sockaddr_in&>(bound).sin_port);
  listen_fd_ = fd;
  return port_;
}

void ConnectionLoop::serve() {
  {
    std::lock_guard lock(mutex_);
    if (listen_fd_ < 0 || serving_ || served_) {
      throw std::invalid_argument(
          served_ || serving_ ? "tykhook::Receiver::serve: already served; make a new Receiver"
                              : "tykhook::Receiver::serve: not bound; call bind() first");
    }
    serving_ = true;
  }
  std::vector<std::thread> workers;
  workers.reserve(options_.threads);
  for (std::size_t i = 0; i < options_.threads; ++i)
    workers.emplace_back([this] { worker_loop(); });
  event_loop();
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  work_ready_.notify_all();
  for (auto& worker : workers) worker.join();
  {
    std::lock_guard lock(mutex_);
    serving_ = false;
    served_ = true;
  }
  serve_done_.notify_all();
}

void ConnectionLoop::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_.exchange(true)) return;
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(stop_fd_, &one, sizeof one);
}

void ConnectionLoop::wait_until_served() {
  std::unique_lock lock(mutex_);
  serve_done_.wait(lock, [this] { return !serving_; });
}

void ConnectionLoop::event_loop() {
  const auto watch = [this](int fd, void* marker) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.ptr = marker;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
  };
  watch(listen_fd_, &listen_fd_);
  watch(stop_fd_, &stop_fd_);
  bool stop_seen = false;
  SteadyClock::time_point next_expiry{};
  for (;;) {
    std::array<epoll_event, 64> events{};
    // Parked connections expire on this tick; while stopping_, the loop ends on it.
    const int count = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()),
                                   stop_seen ? 10 : 100);
    for (int i = 0; i < count; ++i) {
      void* marker = events[static_cast<std::size_t>(i)].data.ptr;
      if (marker == &listen_fd_) {
        accept_connections();
      } else if (marker == &stop_fd_) {
        if (!stop_seen) begin_stopping();
        stop_seen = true;
      } else {
        auto* connection = static_cast<Connection*>(marker);
        {
          const std::lock_guard lock(mutex_);
          if (parked_.erase(connection) == 0) continue;
        }
        if (server_.serve_without_waiting && server_.serve_without_waiting(*connection)) {
          park(connection);
          continue;
        }
        const std::lock_guard lock(mutex_);
        ready_.push_back(connection);
        work_ready_.notify_one();
      }
    }
    // While stopping_, idle kept-alive connections close; new ones get their grace.
    if (const auto now = SteadyClock::now(); count == 0 || now >= next_expiry) {
      expire_parked(stop_seen);
      next_expiry = now + expiry_tick;
    }
    const std::lock_guard lock(mutex_);
    if (stop_seen && open_connections_ == 0) return;
    if (!accepting_ && !stop_seen && SteadyClock::now() >= accept_again_at_) {
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.ptr = &listen_fd_;
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &event);
      accepting_ = true;
    }
  }
}

void ConnectionLoop::accept_connections() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (open_connections_ >= options_.max_connections) {
        // Full: if a connection waits, the kept-alive connection idle the longest makes room;
        // if there is none, new connections wait in the kernel's queue until one closes or
        // becomes idle (the event loop tries again on its tick).
        pollfd waiting = {listen_fd_, POLLIN, 0};
        if (::poll(&waiting, 1, 0) <= 0) return;
        Connection* oldest = nullptr;
        for (Connection* candidate : parked_) {
          if (candidate->served > 0 &&
              (oldest == nullptr || candidate->idle_deadline < oldest->idle_deadline)) {
            oldest = candidate;
          }
        }
        if (oldest == nullptr) {
          epoll_event event{};
          ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &event);
          accepting_ = false;
          return;
        }
        parked_.erase(oldest);
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, oldest->descriptor(), nullptr);
        lock.unlock();
        close_connection(oldest);
      }
    }
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors or memory: retry a little later rather than spin on the socket.
        const std::lock_guard lock(mutex_);
        epoll_event event{};
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &event);
        accepting_ = false;
        accept_again_at_ = SteadyClock::now() + milliseconds(100);
      }
      return;
    }
    // Without it every response on a kept-alive connection waits for the client's delayed
    // ACK, about 40 ms (PERF-NOTES.md, "The HTTP layer").
    const int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    auto* connection = new Connection(fd, options_.limits);
    {
      const std::lock_guard lock(mutex_);
      ++open_connections_;
    }
    park(connection);
  }
}

void ConnectionLoop::begin_stopping() {
  // Connections that the kernel completed before the stop are served, not reset: the portal
  // does not resend a delivery that failed.
  for (int fd; (fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) {
    const int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    {
      const std::lock_guard lock(mutex_);
      ++open_connections_;
    }
    park(new Connection(fd, options_.limits));
  }
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, stop_fd_, nullptr);
  ::close(listen_fd_);
  listen_fd_ = -1;
  const auto grace_end = SteadyClock::now() + shutdown_grace;
  const std::lock_guard lock(mutex_);
  for (Connection* connection : parked_) {
    connection->idle_deadline = std::min(connection->idle_deadline, grace_end);
  }
}

void ConnectionLoop::expire_parked(bool all_kept_alive) {
  const auto now = SteadyClock::now();
  std::vector<Connection*> expired;
  {
    const std::lock_guard lock(mutex_);
    for (auto it = parked_.begin(); it != parked_.end();) {
      Connection* connection = *it;
      if (now >= connection->idle_deadline || (all_kept_alive && connection->served > 0)) {
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, connection->descriptor(), nullptr);
        expired.push_back(connection);
        it = parked_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (Connection* connection : expired) close_connection(connection);
}

void ConnectionLoop::park(Connection* connection) {
  const auto now = SteadyClock::now();
  const std::lock_guard lock(mutex_);
  if (connection->served == 0) {
    // A new connection gets the read timeout for its first byte; while stopping_, less.
    connection->idle_deadline = now + options_.limits.read_timeout;
    if (stopping_.load())
      connection->idle_deadline = std::min(connection->idle_deadline, now + shutdown_grace);
  } else {
    connection->idle_deadline = now + options_.keep_alive_timeout;
  }
  parked_.insert(connection);
  // One-shot: the first readiness hands the connection to one worker, and no other.
  epoll_event event{};
  event.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
  event.data.ptr = connection;
  ::epoll_ctl(epoll_fd_, connection->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
              connection->descriptor(), &event);
  connection->registered = true;
}

void ConnectionLoop::close_connection(Connection* connection) {
  delete connection;  // closes the socket (lingering after a refused body)
  const std::lock_guard lock(mutex_);
  --open_connections_;
}

void ConnectionLoop::worker_loop() {
  for (;;) {
    Connection* connection = nullptr;
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [this] { return !ready_.empty() || closing_; });
      if (ready_.empty()) return;  // closing, and nothing left to serve
      connection = ready_.front();
      ready_.pop_front();
    }
    bool keep = server_.serve(*connection);
    // A kept-alive client mostly sends its next request as soon as it has the answer: while no
    // other connection waits for a worker, wait a moment for it here rather than park it and
    // have the event loop hand it back.
    while (keep && !stopping_.load() && nobody_waiting() && connection->next_request_within(hold)) {
      keep = server_.serve(*connection);
    }
    if (keep && !stopping_.load()) {
      park(connection);
    } else {
      close_connection(connection);
    }
  }
}

bool ConnectionLoop::nobody_waiting() {
  const std::lock_guard lock(mutex_);
  return ready_.empty();
}

}  // namespace tykhook::detail
