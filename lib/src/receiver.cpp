#include "tykhook/receiver.h"

#include <stdexcept>
#include <thread>
#include <utility>

#include "connection_loop.h"
#include "http_server.h"
#include "inspector.h"
#include "receiver_metrics.h"
#include "responder.h"
#include "tykhook/error.h"
#include "tykhook/store.h"
#include "tykhook/targets.h"

namespace tykhook {

namespace {

// The options with the delivery target settled: the handlers become the target, and a target
// needs a store with a queue (memory: when none was given).
ReceiverOptions with_target(ReceiverOptions options, Dispatcher dispatcher) {
  if (!dispatcher.empty()) {
    if (options.delivery.target) {
      throw std::invalid_argument(
          "tykhook::Receiver: both handlers and delivery.target; give one of them");
    }
    options.delivery.target = handler_target(std::move(dispatcher));
  }
  if (!options.delivery.target) return options;
  if (!options.verifier.store) options.verifier.store = open_store("memory:");
  if (!options.verifier.store->has_queue()) {
    throw Error(
        "the store holds no delivery queue, and a delivery target needs one; use sqlite:PATH "
        "(one host), redis://HOST:PORT (several hosts) or memory: (tests)");
  }
  options.delivery.store = options.verifier.store;
  return options;
}

}  // namespace

// The receiver's parts, from the answers up to the sockets: the Responder answers a request, the
// HttpServer reads requests from a connection and writes the answers, and the ConnectionLoop
// owns the connections and the threads. With a delivery target, the Worker hands queued
// deliveries on while the receiver serves.
struct Receiver::Impl {
  Impl(ReceiverOptions options, Dispatcher dispatcher)
      : responder(with_target(std::move(options), std::move(dispatcher)), metrics,
                  [this] { return worker.get(); }),
        http(responder, metrics, [this] { return loop.stopping(); }),
        loop(loop_options(responder.options()), server()) {
    if (responder.options().delivery.target) {
      WorkerOptions delivery = responder.options().delivery;
      metrics.watch_queue(delivery.store);
      delivery.on_attempt = [this, user = delivery.on_attempt](const AttemptReport& report) {
        metrics.count_attempt(report.result.outcome, report.duration);
        if (detail::Inspector* inspector = responder.inspector()) inspector->attempted(report);
        if (user) user(report);
      };
      worker = std::make_unique<Worker>(std::move(delivery));
    }
  }

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
  std::unique_ptr<Worker> worker;
};

Receiver::Receiver(ReceiverOptions options, Dispatcher dispatcher)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(dispatcher))) {}

Receiver::~Receiver() {
  impl_->loop.stop();
  impl_->loop.wait_until_served();
}

int Receiver::bind(std::string_view host, int port) { return impl_->loop.bind(host, port); }

void Receiver::serve() {
  // The worker starts with the receiver, so that entries an earlier run left are handed on too,
  // and stops after it: the deliveries answered last are queued before it drains.
  std::thread worker;
  if (impl_->worker) worker = std::thread([this] { impl_->worker->run(); });
  try {
    impl_->loop.serve();
  } catch (...) {
    if (worker.joinable()) {
      impl_->worker->stop();
      worker.join();
    }
    throw;
  }
  if (worker.joinable()) {
    impl_->worker->stop();
    worker.join();
  }
}

void Receiver::listen(std::string_view host, int port) {
  bind(host, port);
  serve();
}

void Receiver::stop() { impl_->loop.stop(); }

void Receiver::replace_secrets(std::vector<Secret> secrets) {
  impl_->responder.replace_secrets(std::move(secrets));
}

int Receiver::port() const { return impl_->loop.port(); }

std::string Receiver::metrics() const { return impl_->metrics.render(); }

CaptureRecovery Receiver::capture_recovery() const { return impl_->responder.capture_recovery(); }

}  // namespace tykhook
