#include "tykhook/receiver.h"

#include <utility>

#include "connection_loop.h"
#include "http_server.h"
#include "receiver_metrics.h"
#include "responder.h"

namespace tykhook {

// The receiver's parts, from the answers up to the sockets: the Responder answers a request, the
// HttpServer reads requests from a connection and writes the answers, and the ConnectionLoop
// owns the connections and the threads.
struct Receiver::Impl {
  Impl(ReceiverOptions options, Dispatcher dispatcher)
      : responder(std::move(options), std::move(dispatcher), metrics),
        http(responder, metrics, [this] { return loop.stopping(); }),
        loop(loop_options(responder.options()), server()) {}

  static detail::ConnectionLoopOptions loop_options(const ReceiverOptions& options) {
    return {.threads = options.threads,
            .max_connections = options.max_connections,
            .keep_alive_timeout = options.keep_alive_timeout,
            .limits = {.read_timeout = options.read_timeout,
                       .write_timeout = options.write_timeout,
                       .max_header_bytes = options.max_header_bytes,
                       .max_headers = options.max_headers}};
  }

  detail::ConnectionServer server() {
    detail::ConnectionServer server{
        .serve = [this](detail::Connection& connection) { return http.serve(connection); }};
    // When nothing on a delivery's way waits, the event loop serves plain deliveries itself
    // rather than wake a worker for each.
    if (responder.never_waits()) {
      server.serve_without_waiting = [this](detail::Connection& connection) {
        return http.serve_without_waiting(connection);
      };
    }
    return server;
  }

  detail::ReceiverMetrics metrics;
  detail::Responder responder;
  detail::HttpServer http;
  detail::ConnectionLoop loop;
};

Receiver::Receiver(ReceiverOptions options, Dispatcher dispatcher)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(dispatcher))) {}

Receiver::~Receiver() {
  impl_->loop.stop();
  impl_->loop.wait_until_served();
}

int Receiver::bind(std::string_view host, int port) { return impl_->loop.bind(host, port); }

void Receiver::serve() { impl_->loop.serve(); }

void Receiver::listen(std::string_view host, int port) {
  bind(host, port);
  serve();
}

void Receiver::stop() { impl_->loop.stop(); }

int Receiver::port() const { return impl_->loop.port(); }

std::string Receiver::metrics() const { return impl_->metrics.render(); }

CaptureRecovery Receiver::capture_recovery() const { return impl_->responder.capture_recovery(); }

}  // namespace tykhook
