#pragma once

// What the receiver's tests share: samples, a receiver serving on a loopback port with the
// records it logged, and raw HTTP over loopback sockets.

#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tykhook/receiver.h"
#include "tykhook/schema.h"
#include "tykhook/signature.h"
#include "tykhook/store.h"

namespace tykhook::receiver_test {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

inline const std::string secret = "receiver-test-secret";

inline std::string sample(std::string_view event) {
  std::ifstream in(fs::path(TYKHOOK_SOURCE_DIR) / "samples/bodies" / (std::string(event) + ".json"),
                   std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  REQUIRE_FALSE(bytes.str().empty());
  return bytes.str();
}

inline TimePoint now() {
  return std::chrono::time_point_cast<std::chrono::nanoseconds>(Clock::now());
}

// `body` with its (last, top-level) Timestamp set to the current time, other bytes kept.
inline std::string fresh(std::string body) {
  const std::string member = "\"Timestamp\":\"";
  const auto start = body.rfind(member) + member.size();
  body.replace(start, body.find('"', start) - start, format_rfc3339(now()));
  return body;
}

inline const std::string schema_broken =
    fresh(R"({"Event":"ApplicationRegistered","Message":{"ID":"1","Name":"New App","UserID":1,)"
          R"("CreatedAt":"2024-04-18T13:29:23.738726+02:00"},"Timestamp":""})");

// A store that remembers keys in a set, and fails like a Redis that went away while `failing`.
class FlakyStore : public Store {
 public:
  std::atomic<bool> failing{false};
  bool claim(std::string_view key, std::chrono::milliseconds) override {
    if (failing) throw Error("store \"test:\": connection refused");
    const std::lock_guard lock(mutex_);
    return keys_.emplace(key).second;
  }
  void release(std::string_view key) override {
    const std::lock_guard lock(mutex_);
    keys_.erase(std::string(key));
  }
  std::optional<std::size_t> size() const override {
    const std::lock_guard lock(mutex_);
    return keys_.size();
  }
  bool durable() const override { return true; }

 private:
  mutable std::mutex mutex_;
  std::set<std::string> keys_;
};

// A fresh directory under the temporary directory, removed at destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "tykhook-receiver-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A receiver serving on an ephemeral loopback port from a thread of its own, with the records
// of every request it logged and the threads that logged them.
class Running {
 public:
  explicit Running(ReceiverOptions options = {}, Dispatcher dispatcher = {}) {
    if (options.verifier.secrets.empty()) options.verifier.secrets.emplace_back(secret);
    options.on_request = [this](const RequestRecord& record) {
      const std::lock_guard lock(mutex_);
      records_.push_back(record);
      threads_.push_back(std::this_thread::get_id());
      recorded_.notify_all();
    };
    receiver_ = std::make_unique<Receiver>(std::move(options), std::move(dispatcher));
    port_ = receiver_->bind("127.0.0.1", 0);
    thread_ = std::thread([this] { receiver_->serve(); });
  }
  ~Running() {
    receiver_->stop();
    thread_.join();
  }

  int port() const { return port_; }
  Receiver& receiver() { return *receiver_; }
  /// The thread that runs serve(), and with it the event loop.
  std::thread::id serve_thread() const { return thread_.get_id(); }

  httplib::Client client() const {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(5s);
    client.set_connection_timeout(2s);
    return client;
  }

  // Sends `body` signed with `key` (no signature header when `signature` is "none").
  httplib::Result deliver(const std::string& body, const std::string& key = secret,
                          httplib::Headers headers = {}, const std::string& method = "POST",
                          const std::string& signature = "") const {
    if (signature.empty()) {
      headers.emplace("X-Signature-SHA256", sign(key, body));
    } else if (signature != "none") {
      headers.emplace("X-Signature-SHA256", signature);
    }
    httplib::Request request;
    request.method = method;
    request.path = "/webhooks/tyk";
    request.headers = std::move(headers);
    request.body = body;
    request.set_header("Content-Type", "application/json");
    return client().send(request);
  }

  // The record of the request that came from `client` ("IP:PORT"), once it is made.
  std::optional<RequestRecord> record_from(const std::string& client) {
    std::unique_lock lock(mutex_);
    const auto find = [&] {
      return std::find_if(records_.begin(), records_.end(),
                          [&](const RequestRecord& record) { return record.client == client; });
    };
    recorded_.wait_for(lock, 2s, [&] { return find() != records_.end(); });
    const auto found = find();
    return found == records_.end() ? std::nullopt : std::optional<RequestRecord>(*found);
  }
  // The records of the first `count` requests. A record (and the metrics) is made once the
  // response is written, so it can come a moment after the client has read the response.
  std::vector<RequestRecord> records(std::size_t count) {
    std::unique_lock lock(mutex_);
    recorded_.wait_for(lock, 2s, [&] { return records_.size() >= count; });
    return records_;
  }
  // The threads that logged the first `count` requests, in the same order.
  std::vector<std::thread::id> threads(std::size_t count) {
    std::unique_lock lock(mutex_);
    recorded_.wait_for(lock, 2s, [&] { return threads_.size() >= count; });
    return threads_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable recorded_;
  std::vector<RequestRecord> records_;
  std::vector<std::thread::id> threads_;
  std::unique_ptr<Receiver> receiver_;
  int port_ = 0;
  std::thread thread_;
};

inline ReceiverOptions with_store(std::shared_ptr<Store> store = open_store("memory:")) {
  ReceiverOptions options;
  options.verifier.store = std::move(store);
  options.verifier.schemas = SchemaRegistry::embedded();
  options.verifier.tolerance = 5min;
  return options;
}

inline int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  return fd;
}

// Appends to `text` what the server sends next, waiting until `deadline` at most; false when
// nothing came (the server closed, or the time is up).
inline bool receive_more(int fd, std::string& text,
                         std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  pollfd fds = {fd, POLLIN, 0};
  if (left.count() <= 0 || ::poll(&fds, 1, static_cast<int>(left.count())) <= 0) return false;
  char buffer[65536];
  const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
  if (n <= 0) return false;
  text.append(buffer, static_cast<std::size_t>(n));
  return true;
}

// Reads what the server sends until it closes, or `timeout` passes.
inline std::string read_until_closed(int fd, std::chrono::milliseconds timeout) {
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (receive_more(fd, text, deadline)) {
  }
  return text;
}

// Sends `bytes` as they are on a new connection and returns all the server answered.
inline std::string exchange(int port, const std::string& bytes,
                            std::chrono::milliseconds timeout = 5s) {
  const int fd = connect_to(port);
  ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::string text = read_until_closed(fd, timeout);
  ::close(fd);
  return text;
}

inline int status_of(const std::string& response) {
  return response.starts_with("HTTP/1.1 ") ? std::atoi(response.c_str() + 9) : 0;
}

inline std::string header_of(const std::string& response, const std::string& name) {
  const std::regex pattern("\r\n" + name + ": ([^\r]*)\r\n", std::regex::icase);
  std::smatch match;
  return std::regex_search(response, match, pattern) ? match[1].str() : "";
}

inline std::string body_of(const std::string& response) {
  const auto end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

inline std::string metric_line(const std::string& metrics, const std::string& name) {
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with(name + " ")) return line;
  }
  return "";
}

inline std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// A raw HTTP/1.1 delivery of `body`, signed with `key` (no signature header when `key` is
// empty), with `extra` header lines (each ending in CRLF) before its Content-Length.
inline std::string raw_delivery(const std::string& body, const std::string& extra = "",
                                const std::string& request_line = "POST /webhooks/tyk HTTP/1.1",
                                const std::string& key = secret) {
  std::string request = request_line + "\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
  if (!key.empty()) request += "X-Signature-SHA256: " + sign(key, body) + "\r\n";
  return request + extra + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Reads `count` responses (each a head and its Content-Length body) from `fd`, waiting 5 s at
// most; fewer when the connection ends or the time is up.
inline std::vector<std::string> read_responses(int fd, std::size_t count) {
  std::vector<std::string> responses;
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (responses.size() < count) {
    const auto end = text.find("\r\n\r\n");
    if (end != std::string::npos) {
      const std::string length = header_of(text.substr(0, end + 2), "Content-Length");
      const std::size_t size = end + 4 + std::stoull(length.empty() ? "0" : length);
      if (text.size() >= size) {
        responses.push_back(text.substr(0, size));
        text.erase(0, size);
        continue;
      }
    }
    if (!receive_more(fd, text, deadline)) break;
  }
  return responses;
}

inline std::string read_response(int fd) {
  const auto responses = read_responses(fd, 1);
  return responses.empty() ? "" : responses.front();
}

// Sends `request` on a new connection, whole in one write or in two (the head, then after a
// pause the body, so that the receiver has read the head alone), and returns the response;
// `client` is set to the connection's "IP:PORT" as the receiver's log record names it.
inline std::string send_request(int port, const std::string& request, bool in_parts,
                                std::string* client = nullptr) {
  const int fd = connect_to(port);
  if (client != nullptr) {
    sockaddr_in local{};
    socklen_t length = sizeof local;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0);
    *client = "127.0.0.1:" + std::to_string(ntohs(local.sin_port));
  }
  const std::size_t cut = in_parts ? request.find("\r\n\r\n") + 4 : request.size();
  ::send(fd, request.data(), cut, MSG_NOSIGNAL);
  if (in_parts) {
    std::this_thread::sleep_for(50ms);
    ::send(fd, request.data() + cut, request.size() - cut, MSG_NOSIGNAL);
  }
  std::string response = read_response(fd);
  ::close(fd);
  return response;
}

}  // namespace tykhook::receiver_test
