#pragma once

// Private to the library: the receiver's connections and threads. It binds, accepts, watches
// idle connections with epoll and hands readable ones to workers; what a connection's requests
// are and how they are answered is the business of the ConnectionServer it is given.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string_view>
#include <unordered_set>

#include "connection.h"

namespace tykhook::detail {

/// What serves the requests that arrive on a connection.
struct ConnectionServer {
  /// Serves the requests that have arrived on `connection`, on a worker thread, waiting for
  /// them as long as its limits allow; returns whether the connection stays open.
  std::function<bool(Connection&)> serve;
  /// Serves on the event loop's thread what has arrived on `connection`, never waiting;
  /// returns true when it served all of it (the connection is watched again), false when a
  /// worker must take it. Empty: workers serve every connection.
  std::function<bool(Connection&)> serve_without_waiting;
};

/// How many connections and threads, and how long idle connections are kept.
struct ConnectionLoopOptions {
  std::size_t threads = 0;          ///< workers: connections served at once
  std::size_t max_connections = 0;  ///< open connections at most, idle ones included
  /// How long an idle connection is kept open for its next request (a new one: read_timeout).
  std::chrono::milliseconds keep_alive_timeout{};
  ConnectionLimits limits;  ///< what each connection holds its requests to
};

/// The listening socket, the event loop and the workers. Idle connections hold no worker: they
/// are parked, watched by epoll, until their next request arrives or their time is up.
class ConnectionLoop {
 public:
  /// Throws tykhook::Error when the event descriptors cannot be made.
  ConnectionLoop(ConnectionLoopOptions options, ConnectionServer server);
  ~ConnectionLoop();
  ConnectionLoop(const ConnectionLoop&) = delete;
  ConnectionLoop& operator=(const ConnectionLoop&) = delete;

  /// Binds `host` and `port` (0 picks a free port) and returns the port bound. Throws
  /// tykhook::Error naming the address when it cannot bind, std::invalid_argument when bound.
  int bind(std::string_view host, int port);
  /// Serves until stop(), then finishes the requests in flight and returns. Throws
  /// std::invalid_argument when bind() was not called or serve() already ran.
  void serve();
  /// Stops accepting connections; safe from any thread, and more than once.
  void stop();
  /// Waits until serve() has returned, or returns at once when it is not running.
  void wait_until_served();

  /// The port bound, or 0 before bind().
  [[nodiscard]] int port() const { return port_; }
  /// True once stop() was called.
  [[nodiscard]] bool stopping() const { return stopping_.load(); }

 private:
  void event_loop();
  void accept_connections();
  void begin_stopping();
  void expire_parked(bool all_kept_alive);
  void worker_loop();
  bool nobody_waiting();
  void park(Connection* connection);
  void close_connection(Connection* connection);

  ConnectionLoopOptions options_;
  ConnectionServer server_;

  int listen_fd_ = -1;
  int port_ = 0;
  int stop_fd_ = -1;   // readable once stop() was called; never reset
  int epoll_fd_ = -1;  // the listening socket, stop_fd_ and the parked connections
  std::atomic<bool> stopping_{false};

  // A connection is in one place at a time: parked (idle, watched for its next request),
  // ready (readable, waiting for a worker), or with a worker.
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable serve_done_;
  std::unordered_set<Connection*> parked_;
  std::deque<Connection*> ready_;
  std::size_t open_connections_ = 0;
  bool accepting_ = true;  // the listening socket is watched
  std::chrono::steady_clock::time_point accept_again_at_{};
  bool closing_ = false;  // the event loop ended: workers finish what is ready, then exit
  bool serving_ = false;
  bool served_ = false;
};

}  // namespace tykhook::detail
