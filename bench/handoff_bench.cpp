// handoff_bench: how long after the portal's answer the application sees a delivery, with the
// queue empty. Plays the portal and the application at once: it runs an application on
// 127.0.0.1:APP_PORT (answering 200), then sends signed deliveries to a `tykhook listen
// --forward-to http://127.0.0.1:APP_PORT/...` one at a time, each only after the application
// has had the one before, and measures from the moment the answer to a delivery is read to the
// moment the application receives that delivery. Both times are CLOCK_MONOTONIC of one machine.
//
//   handoff_bench --url http://127.0.0.1:PORT/ --secret-file FILE --app-port N [--count 2000]
//
// Prints the delay's median, p90, p99 and max in milliseconds (the first --warm-up deliveries
// not counted), and how many deliveries reached the application before their answer was read.
#include <httplib.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tykhook/signature.h"

namespace {

using Clock = std::chrono::steady_clock;

std::optional<std::size_t> index_of(const std::string& body);

// The application: records when each delivery's first attempt arrived, by its index.
class Application {
 public:
  explicit Application(int port) : port_(port) {
    server_.set_tcp_nodelay(true);
    server_.Post(".*", [this](const httplib::Request& request, httplib::Response& response) {
      const auto arrived = Clock::now();
      response.status = 200;
      const auto found = index_of(request.body);
      if (!found) return;
      const std::size_t index = *found;
      const std::lock_guard lock(mutex_);
      if (index >= arrivals_.size()) arrivals_.resize(index + 1);
      if (!arrivals_[index]) arrivals_[index] = arrived;  // the first attempt counts
      changed_.notify_all();
    });
  }

  bool start() {
    if (!server_.bind_to_port("127.0.0.1", port_)) return false;
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    return true;
  }

  void stop() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  // When delivery `index` arrived, waiting up to `patience` for it.
  std::optional<Clock::time_point> wait_for(std::size_t index, std::chrono::seconds patience) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, patience,
                      [&] { return index < arrivals_.size() && arrivals_[index].has_value(); });
    if (index < arrivals_.size()) return arrivals_[index];
    return std::nullopt;
  }

 private:
  int port_;
  httplib::Server server_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::optional<Clock::time_point>> arrivals_;
};

// The application finds a delivery's index in its Email: handoff-RUN-INDEX@example.com.
constexpr std::string_view email_mark = "\"Email\":\"handoff-";

std::optional<std::size_t> index_of(const std::string& body) {
  const auto at = body.find(email_mark);
  if (at == std::string::npos) return std::nullopt;
  const auto dash = body.find('-', at + email_mark.size());
  if (dash == std::string::npos) return std::nullopt;
  return std::stoul(body.substr(dash + 1));
}

// A UserRegistered delivery as the portal sends it (tykhook example UserRegistered), unique
// per run and index, stamped now.
std::string body_for(std::size_t run, std::size_t index) {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return "{\"Event\":\"UserRegistered\",\"Message\":{\"ID\":29,\"Email\":\"handoff-" +
         std::to_string(run) + "-" + std::to_string(index) +
         "@example.com\",\"First\":\"FirstName\",\"Last\":\"Lastname\",\"OrgID\":1,"
         "\"Provider\":\"password\",\"Status\":\"active\",\"CreatedAt\":\"" +
         stamp + "\",\"ByUser\":1,\"CustomAttributes\":[]},\"Timestamp\":\"" + stamp + "\"}";
}

double percentile(std::vector<double> values, double share) {
  std::sort(values.begin(), values.end());
  const auto at = static_cast<std::size_t>(share * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(at, values.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"handoff_bench: the delay from the portal's answer to the application's attempt"};
  std::string url;
  std::string secret_file;
  int app_port = 0;
  std::size_t count = 2000;
  std::size_t warm_up = 100;
  app.add_option("--url", url, "The receiver, http://127.0.0.1:PORT/")->required();
  app.add_option("--secret-file", secret_file, "The receiver's secret")->required();
  app.add_option("--app-port", app_port, "Port of the application on 127.0.0.1")->required();
  app.add_option("--count", count, "Deliveries measured");
  app.add_option("--warm-up", warm_up, "Deliveries sent first and not measured");
  CLI11_PARSE(app, argc, argv);

  std::ifstream secret_in(secret_file);
  std::string secret((std::istreambuf_iterator<char>(secret_in)), std::istreambuf_iterator<char>());
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) {
    std::cerr << "handoff_bench: " << secret_file << ": no secret in it\n";
    return 2;
  }
  const auto slash = url.find('/', url.find("//") + 2);
  const std::string origin = url.substr(0, slash);
  const std::string path = slash == std::string::npos ? "/" : url.substr(slash);

  Application application(app_port);
  if (!application.start()) {
    std::cerr << "handoff_bench: cannot bind 127.0.0.1:" << app_port << '\n';
    return 2;
  }
  httplib::Client portal(origin);
  portal.set_keep_alive(true);
  portal.set_tcp_nodelay(true);
  const auto run = static_cast<std::size_t>(Clock::now().time_since_epoch().count());
  std::vector<double> delays_ms;
  std::size_t before_answer = 0;
  int status = 0;
  for (std::size_t i = 0; i < warm_up + count; ++i) {
    const std::string body = body_for(run, i);
    const httplib::Headers headers{{"X-Signature-SHA256", tykhook::sign(secret, body)}};
    const auto answer = portal.Post(path, headers, body, "application/json");
    const auto answered = Clock::now();
    if (!answer || answer->status != 200) {
      std::cerr << "handoff_bench: delivery " << i << " answered "
                << (answer ? std::to_string(answer->status) : httplib::to_string(answer.error()))
                << "\n";
      status = 1;
      break;
    }
    const auto arrived = application.wait_for(i, std::chrono::seconds(10));
    if (!arrived) {
      std::cerr << "handoff_bench: delivery " << i << " did not reach the application in 10 s\n";
      status = 1;
      break;
    }
    if (i < warm_up) continue;
    if (*arrived < answered) ++before_answer;
    delays_ms.push_back(std::chrono::duration<double, std::milli>(*arrived - answered).count());
  }
  application.stop();
  if (delays_ms.empty()) return status == 0 ? 1 : status;
  std::printf(
      "RESULT deliveries=%zu p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f "
      "before_answer=%zu\n",
      delays_ms.size(), percentile(delays_ms, 0.5), percentile(delays_ms, 0.9),
      percentile(delays_ms, 0.99), *std::max_element(delays_ms.begin(), delays_ms.end()),
      before_answer);
  return status;
}
