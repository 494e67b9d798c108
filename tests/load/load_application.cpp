// load_application: a stand-in for the application behind `tykhook listen --forward-to`, for
// the load test's `forward` scenario. It answers a share of the requests 503 at random (a
// flaky application), the others 200, and appends the X-Tykhook-Delivery of each request it
// answered 200 to the successes file, one line each, so the test can count each delivery's
// successes.
//   load_application --port N --fail-share 0.3 --successes FILE
// Runs until SIGTERM or SIGINT.
#include <httplib.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <random>
#include <string>

int main(int argc, char** argv) {
  CLI::App app{"load_application: a flaky application for tykhook's forwarding under load"};
  int port = 0;
  double fail_share = 0.3;
  std::string successes_path;
  app.add_option("--port", port, "Port on 127.0.0.1")->required();
  app.add_option("--fail-share", fail_share, "Share of requests answered 503, 0 to 1");
  app.add_option("--successes", successes_path, "File of the deliveries answered 200")->required();
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
  server.Post(".*", [&](const httplib::Request& request, httplib::Response& response) {
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
  server.listen_after_bind();
  stopper.join();
  std::fclose(successes);
  std::cerr << "load_application: " << failed << " requests answered 503\n";
  return 0;
}
