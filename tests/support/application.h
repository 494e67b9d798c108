#pragma once

// A stand-in for the application behind tykhook (`--forward-to`): an HTTP server on loopback
// that records every request it gets and answers as the test says; it can go down and come
// back on the same port.

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace tykhook::test {

/// One request as the application got it.
struct Received {
  std::string method;
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::steady_clock::time_point at;
  std::string remote;  ///< "IP:PORT" of the connection it came on

  /// The value of header `name` (any case); "" when it has none.
  [[nodiscard]] std::string header(const std::string& name) const;
};

/// How the application answers a request: sets the response's status, headers and body.
using Answer = std::function<void(const Received&, httplib::Response&)>;

class Application {
 public:
  /// An application that will listen on `port` (0: a free one), not started yet.
  explicit Application(int port = 0);
  ~Application();
  Application(const Application&) = delete;
  Application& operator=(const Application&) = delete;

  /// Starts serving (again) on the port; returns once it accepts connections.
  void start();
  /// Stops serving: connections are refused until start().
  void stop();
  /// Answers from now on with `answer` (the default answers 200 "ok").
  void answer_with(Answer answer);

  [[nodiscard]] int port() const { return port_; }
  /// http://127.0.0.1:PORT`path`
  [[nodiscard]] std::string url(const std::string& path = "/hook") const;
  /// Every request received so far, in order.
  [[nodiscard]] std::vector<Received> received() const;
  /// How many requests were received so far.
  [[nodiscard]] std::size_t count() const;

 private:
  int port_;
  mutable std::mutex mutex_;
  Answer answer_;
  std::vector<Received> received_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace tykhook::test
