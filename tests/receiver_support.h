#pragma once

// What the receiver's tests share: samples, a receiver serving on a loopback port with the
// records it logged, and raw deliveries; the rest is the test support library's.

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
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/files.h"
#include "support/loopback.h"
#include "support/wait.h"
#include "tykhook/receiver.h"
#include "tykhook/schema.h"
#include "tykhook/signature.h"
#include "tykhook/store.h"
#include "tykhook/targets.h"

namespace tykhook::receiver_test {

// Temporary directories, loopback sockets and raw HTTP come from the test support library.
using namespace tykhook::test;

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

inline const std::string secret = "receiver-test-secret";

inline std::string sample(std::string_view event) {
  std::string body = source_file("samples/bodies/" + std::string(event) + ".json");
  REQUIRE_FALSE(body.empty());
  return body;
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
  std::chrono::milliseconds delay{0};  ///< how long each claim takes (a slow disk)
  std::atomic<int> started{0};         ///< claims begun
  bool claim(std::string_view key, std::chrono::milliseconds) override {
    ++started;
    if (failing) throw Error("store \"test:\": connection refused");
    std::this_thread::sleep_for(delay);
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

inline std::string metric_line(const std::string& metrics, const std::string& name) {
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with(name + " ")) return line;
  }
  return "";
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

}  // namespace tykhook::receiver_test
