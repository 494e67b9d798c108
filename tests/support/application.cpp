#include "support/application.h"

#include <doctest/doctest.h>
#include <httplib.h>

#include "support/loopback.h"
#include "support/wait.h"

namespace tykhook::test {

std::string Received::header(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() &&
        std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return value;
    }
  }
  return "";
}

Application::Application(int port)
    : port_(port == 0 ? free_port() : port),
      answer_([](const Received&, httplib::Response& response) {
        response.status = 200;
        response.set_content("ok", "text/plain");
      }) {}

Application::~Application() { stop(); }

void Application::start() {
  stop();
  server_ = std::make_unique<httplib::Server>();
  server_->set_tcp_nodelay(true);
  // A thread for each connection that several forwarding processes keep open at once (the
  // library's default of a few would make them wait on one another's idle connections).
  server_->new_task_queue = [] { return new httplib::ThreadPool(64); };
  const auto handle = [this](const httplib::Request& request, httplib::Response& response) {
    Received got{.method = request.method,
                 .path = request.path,
                 .headers = {request.headers.begin(), request.headers.end()},
                 .body = request.body,
                 .at = std::chrono::steady_clock::now(),
                 .remote = request.remote_addr + ":" + std::to_string(request.remote_port)};
    Answer answer;
    {
      const std::lock_guard lock(mutex_);
      received_.push_back(got);
      answer = answer_;
    }
    answer(got, response);
  };
  server_->Post(".*", handle);
  server_->Put(".*", handle);
  server_->Patch(".*", handle);
  REQUIRE(server_->bind_to_port("127.0.0.1", port_));
  thread_ = std::thread([server = server_.get()] { server->listen_after_bind(); });
  REQUIRE(wait_until("the application to accept connections",
                     [this] { return server_->is_running() && accepts_connections(port_); }));
}

void Application::stop() {
  if (!server_) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

void Application::answer_with(Answer answer) {
  const std::lock_guard lock(mutex_);
  answer_ = std::move(answer);
}

std::string Application::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<Received> Application::received() const {
  const std::lock_guard lock(mutex_);
  return received_;
}

std::size_t Application::count() const {
  const std::lock_guard lock(mutex_);
  return received_.size();
}

}  // namespace tykhook::test
