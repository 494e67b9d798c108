#pragma once

// Private to the library: the HTTP/1.1 side of the receiver. It reads each request of a
// connection (with cpp-httplib's parser, or its own for a plain delivery that has arrived
// whole), has the Responder answer it, writes the response, and counts and logs it.

#include <httplib.h>

#include <functional>
#include <string>

#include "connection.h"
#include "receiver_metrics.h"
#include "responder.h"

namespace tykhook::detail {

/// Serves the requests of the receiver's connections (a ConnectionServer).
class HttpServer {
 public:
  /// `stopping` tells whether the receiver is stopping: the request being read is then the
  /// last of its connection.
  HttpServer(Responder& responder, ReceiverMetrics& metrics, std::function<bool()> stopping);
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Serves the requests that have arrived on `connection`, on a worker thread; returns whether
  /// the connection stays open.
  bool serve(Connection& connection);
  /// Serves on the event loop's thread the plain deliveries that have arrived whole on
  /// `connection`, never waiting. Returns false when a worker must take the connection: its
  /// next request is not a plain delivery that has arrived whole, or is its last; or its
  /// `pending` says what is left to do.
  bool serve_without_waiting(Connection& connection);

 private:
  /// The HTTP/1.1 request parser and response writer. The receiver runs its own connections
  /// (the engine's own loop has per-read timeouts only, no header limits and no bound on
  /// chunked bodies), and hands each request to the engine's request step.
  class Engine final : public httplib::Server {
   public:
    using httplib::Server::process_request;
  };

  void configure_engine();
  bool serve_requests(Connection& connection);
  bool end_request(Connection& connection, bool answered, bool client_closes, bool last);
  bool serve_directly(Connection& connection);
  void write_directly(Connection& connection, const httplib::Request& req, httplib::Response& res);
  void finish(Connection& connection);

  // The engine's callbacks; each runs on the thread of the connection it concerns.
  httplib::Server::HandlerResponse on_request_head(const httplib::Request& req,
                                                   httplib::Response& res);
  int on_expect_continue(const httplib::Request& req, httplib::Response& res);
  void on_delivery(httplib::Response& res, const httplib::ContentReader& reader);
  httplib::Server::HandlerResponse on_error(const httplib::Request& req, httplib::Response& res);
  void on_exception(const httplib::Request& req, httplib::Response& res, std::exception_ptr error);
  void on_written(const httplib::Request& req, const httplib::Response& res);

  Responder& responder_;
  ReceiverMetrics& metrics_;
  std::function<bool()> stopping_;
  const ReceiverOptions& options_;
  Engine engine_;
  std::function<void(httplib::Request&)> setup_request_;
  std::string keep_alive_value_;  // the engine's Keep-Alive response header
};

}  // namespace tykhook::detail
