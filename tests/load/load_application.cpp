// load_application: a stand-in for the application behind `tykhook listen --forward-to`, for
// the load test's `forward` scenario. It answers a share of the requests 503 at random (a
// flaky application), the others 200, and appends the X-Tykhook-Delivery of each request it
// answered 200 to the successes file, one line each, so the test can count each delivery's
// successes. With --delay-ms N each answer waits N ms before it is sent (a slow application,
// for the benches; the waits overlap, one per connection).
//   load_application --port N --fail-share 0.3 --successes FILE [--delay-ms 5]
// Runs until SIGTERM or SIGINT.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>

namespace {

// The library listens with a backlog of 5 connections: when a worker opens 64 keep-alive
// connections at once, the kernel drops the SYNs past the sixth, and each such connect waits
// for a retransmission (1 s, then 3 s, ...), which measures the backlog, not tykhook. listen()
// again on the bound socket sets a longer one.
void widen_backlog(int port) {
  for (int fd = 3; fd < 1024; ++fd) {
    int listening = 0;
    socklen_t length = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) != 0 || listening == 0) {
      continue;
    }
    sockaddr_in address{};
    socklen_t address_length = sizeof address;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &address_length) == 0 &&
        address.sin_family == AF_INET && ntohs(address.sin_port) == port) {
      listen(fd, SOMAXCONN);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"load_application: a flaky application for tykhook's forwarding under load"};
  int port = 0;
  double fail_share = 0.3;
  std::string successes_path;
  int delay_ms = 0;
  app.add_option("--port", port, "Port on 127.0.0.1")->required();
  app.add_option("--fail-share", fail_share, "Share of requests answered 503, 0 to 1");
  app.add_option("--successes", successes_path, "File of the deliveries answered 200")->required();
  app.add_option("--delay-ms", delay_ms,
                 "Milliseconds each answer waits before it is sent, e.g. 5 (default 0: at "
                 "once); up to 256 connections, each kept alive, wait at the same time")
      ->check(CLI::Range(0, 60000));
  CLI11_PARSE(app, argc, argv);

  std::FILE* successes = std::fopen(successes_path.c_str(), "a");
  if (successes == nullptr) {
    std::cerr << "load_application: " << successes_path << ": cannot open\n";
    return 2;
  }
  std::mutex mutex;
  std::mt19937_64 random{std::random_device{}()};
  std::atomic<long> failed{0};
  httplib::Server server;
  server.set_tcp_nodelay(true);
  // A thread for each keep-alive connection a worker may hold open (up to 256): with fewer, a
  // connection waits for a thread that another idle connection keeps, and the application,
  // not tykhook, becomes the limit.
  server.new_task_queue = [] { return new httplib::ThreadPool(256); };
  // Many requests per connection, as application servers allow (the library's default closes
  // a connection after 5, and the client would spend its time connecting again).
  server.set_keep_alive_max_count(1000);
  server.Post(".*", [&](const httplib::Request& request, httplib::Response& response) {
    // Outside the lock: each connection's thread waits on its own, as a slow application's
    // requests do, instead of one after the other.
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    const std::string key = request.get_header_value("X-Tykhook-Delivery");
    const std::lock_guard lock(mutex);
    if (key.empty() || std::uniform_real_distribution<double>(0, 1)(random) < fail_share) {
      ++failed;
      response.status = 503;
      return;
    }
    std::fprintf(successes, "%s\n", key.c_str());
    std::fflush(successes);
    response.status = 200;
  });
  // Stops on SIGTERM or SIGINT, taken by a thread of its own.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::thread stopper([&] {
    int taken = 0;
    sigwait(&stop_signals, &taken);
    server.stop();
  });
  if (!server.bind_to_port("127.0.0.1", port)) {
    std::cerr << "load_application: cannot bind 127.0.0.1:" << port << '\n';
    return 2;
  }
  widen_backlog(port);
  server.listen_after_bind();
  stopper.join();
  std::fclose(successes);
  std::cerr << "load_application: " << failed << " requests answered 503\n";
  return 0;
}
