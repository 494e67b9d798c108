// The connection loop: stopping, many connections at once, idle connections and the
// connection limit, and which thread serves what.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "capture_writer.h"
#include "receiver_support.h"
#include "request_head.h"
#include "tykhook/capture.h"
#include "tykhook/receiver.h"
#include "tykhook/schema.h"
#include "tykhook/signature.h"
#include "tykhook/store.h"

using namespace tykhook;
using namespace tykhook::receiver_test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A connection that has had one delivery answered and is kept alive.
int kept_alive_connection(int port) {
  const int fd = connect_to(port);
  const std::string request = raw_delivery(fresh(sample("UserRegistered")));
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  REQUIRE(status_of(read_response(fd)) == 200);
  return fd;
}

// How long the server takes to close `fd` (reading nothing more), at most `limit`.
Steady::duration until_closed(int fd, std::chrono::milliseconds limit) {
  const auto start = Steady::now();
  CHECK(read_until_closed(fd, limit).empty());
  return Steady::now() - start;
}

bool still_open(int fd) {
  pollfd fds = {fd, POLLIN, 0};
  return ::poll(&fds, 1, 0) == 0;
}

}  // namespace

TEST_CASE("stop finishes the requests in flight, then serve returns") {
  // A slow store holds each delivery in flight when stop() comes.
  const auto store = std::make_shared<FlakyStore>();
  store->delay = 600ms;
  auto running = std::make_unique<Running>(with_store(store));
  std::vector<std::thread> senders;
  std::atomic<int> answered_ok{0};
  for (const std::string event : {"UserRegistered", "PasswordReset", "ApplicationRegistered"}) {
    senders.emplace_back([&, event] {
      const auto result = running->deliver(fresh(sample(event)));
      if (result && result->status == 200) ++answered_ok;
    });
  }
  REQUIRE(wait_until("three deliveries in flight", [&] { return store->started == 3; }));
  const auto stopping = std::chrono::steady_clock::now();
  running.reset();  // stop(), then wait for serve() to return
  for (auto& sender : senders) sender.join();
  CHECK(answered_ok == 3);
  CHECK(std::chrono::steady_clock::now() - stopping < 3s);
}

TEST_CASE("16 connections delivering at once are each answered once their delivery is durable") {
  // With a durable store and a capture directory, concurrent deliveries share their commits and
  // fsyncs; each answer still comes after its own claim and capture file are written.
  constexpr int client_count = 16;
  constexpr int per_client = 4;
  TempDir dir;
  ReceiverOptions options = with_store(open_store("sqlite:" + (dir.path() / "claims.db").string()));
  const std::shared_ptr<Store> store = options.verifier.store;
  options.capture_dir = dir.path() / "captures";
  Running running(std::move(options));

  // Each delivery is made unique by its Timestamp, a nanosecond apart.
  const auto base = now();
  std::vector<std::string> bodies;
  const std::string user = sample("UserRegistered");
  const std::string member = "\"Timestamp\":\"";
  for (int i = 0; i < client_count * per_client; ++i) {
    std::string body = user;
    const auto start = body.rfind(member) + member.size();
    body.replace(start, body.find('"', start) - start,
                 format_rfc3339(base - std::chrono::nanoseconds(i)));
    bodies.push_back(std::move(body));
  }
  std::vector<std::string> verdicts(bodies.size());
  std::vector<int> statuses(bodies.size());
  std::vector<std::thread> clients;
  for (int c = 0; c < client_count; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", running.port());
      client.set_keep_alive(true);
      client.set_read_timeout(10s);
      for (int k = 0; k < per_client; ++k) {
        const std::size_t i = static_cast<std::size_t>(c * per_client + k);
        const auto result = client.Post("/hook", {{"X-Signature-SHA256", sign(secret, bodies[i])}},
                                        bodies[i], "application/json");
        if (result) {
          statuses[i] = result->status;
          verdicts[i] = result->get_header_value("X-Tykhook-Verdict");
        }
      }
    });
  }
  for (auto& client : clients) client.join();

  std::set<std::string> want_keys;
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    CAPTURE(i);
    CHECK(statuses[i] == 200);
    CHECK(verdicts[i] == "ok");
    want_keys.insert(idempotency_key(bodies[i]));
  }
  REQUIRE(want_keys.size() == bodies.size());
  std::set<std::string> captured_keys;
  for (const auto& file : files_in(dir.path() / "captures")) {
    const std::string name = file.filename().string();
    CHECK_FALSE(name.starts_with("."));  // no temporary file is left
    captured_keys.insert(name.substr(name.size() - 64 - 5, 64));
  }
  CHECK(captured_keys == want_keys);
  int unclaimed = 0;
  for (const auto& key : want_keys) unclaimed += store->claim(key, 1min) ? 1 : 0;
  CHECK(unclaimed == 0);
}

TEST_CASE(
    "an idle connection is closed: kept alive after keep_alive_timeout, new after "
    "read_timeout") {
  ReceiverOptions options = with_store();
  options.keep_alive_timeout = 300ms;
  options.read_timeout = 600ms;
  Running running(std::move(options));
  const auto start = Steady::now();
  const int kept = kept_alive_connection(running.port());
  const int silent = connect_to(running.port());
  const auto kept_closed = until_closed(kept, 3s) + (Steady::now() - start);
  const auto silent_closed = until_closed(silent, 3s) + (Steady::now() - start);
  ::close(kept);
  ::close(silent);
  // The receiver looks at idle connections every 100 ms.
  CHECK(kept_closed >= 250ms);
  CHECK(kept_closed < 1500ms);
  CHECK(silent_closed >= 550ms);
  CHECK(silent_closed < 1800ms);
}

TEST_CASE("at max_connections the connection idle the longest makes room for a new one") {
  ReceiverOptions options = with_store();
  options.max_connections = 2;
  Running running(std::move(options));
  const int oldest = kept_alive_connection(running.port());
  // A pause on purpose: `oldest` is idle the longest by a clear margin, whatever the clock.
  std::this_thread::sleep_for(20ms);
  const int newer = kept_alive_connection(running.port());
  const int third = kept_alive_connection(running.port());  // answered: the oldest made room
  CHECK(until_closed(oldest, 2s) < 1s);
  CHECK(still_open(newer));
  // Full again: the next one closes `newer`, and `third` keeps serving.
  const int fourth = kept_alive_connection(running.port());
  CHECK(until_closed(newer, 2s) < 1s);
  const std::string again = raw_delivery(fresh(sample("PasswordReset")));
  ::send(third, again.data(), again.size(), MSG_NOSIGNAL);
  CHECK(status_of(read_response(third)) == 200);
  for (const int fd : {oldest, newer, third, fourth}) ::close(fd);
}

TEST_CASE("at max_connections with none idle, a new connection waits until one closes") {
  ReceiverOptions options = with_store();
  options.max_connections = 1;
  Running running(std::move(options));
  const int first = connect_to(running.port());    // open, its request not sent yet
  const int waiting = connect_to(running.port());  // completed by the kernel, not yet accepted
  const std::string request = raw_delivery(fresh(sample("UserRegistered")));
  ::send(waiting, request.data(), request.size(), MSG_NOSIGNAL);
  std::string early;
  CHECK_FALSE(receive_more(waiting, early, Steady::now() + 300ms));
  ::close(first);
  const auto closed = Steady::now();
  CHECK(status_of(read_response(waiting)) == 200);
  CHECK(Steady::now() - closed < 1s);
  ::close(waiting);
}

TEST_CASE("stop closes idle kept-alive connections at once and serve returns") {
  auto running = std::make_unique<Running>(with_store());
  std::vector<int> idle;
  for (int i = 0; i < 12; ++i) idle.push_back(kept_alive_connection(running->port()));
  const auto stopping = Steady::now();
  running.reset();  // stop(), then wait for serve() to return
  CHECK(Steady::now() - stopping < 900ms);
  for (const int fd : idle) {
    CHECK(read_until_closed(fd, 1s).empty());
    ::close(fd);
  }
}

TEST_CASE("the event loop serves deliveries itself only when nothing on their way can wait") {
  TempDir dir;
  struct Case {
    std::string name;
    ReceiverOptions options;
    Dispatcher dispatcher;
    bool on_event_loop;
  };
  std::vector<Case> cases;
  cases.push_back({"memory store", with_store(), {}, true});
  cases.push_back({"no store", with_store(nullptr), {}, true});
  cases.push_back({"a store that may wait", with_store(std::make_shared<FlakyStore>()), {}, false});
  cases.push_back({"a capture directory", with_store(), {}, false});
  cases.back().options.capture_dir = dir.path() / "captures";
  // Handlers run from the queue, on the worker's threads: they no longer hold deliveries up.
  cases.push_back({"a handler", with_store(), {}, true});
  cases.back().dispatcher.on_any([](const Verdict&) {});
  for (Case& test : cases) {
    CAPTURE(test.name);
    Running running(std::move(test.options), std::move(test.dispatcher));
    for (const std::string event : {"UserRegistered", "PasswordReset"}) {
      REQUIRE(status_of(send_request(running.port(), raw_delivery(fresh(sample(event))), false)) ==
              200);
    }
    // What is not a plain delivery arrived whole always goes to a worker.
    REQUIRE(status_of(exchange(running.port(),
                               "HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) == 200);
    const auto threads = running.threads(3);
    REQUIRE(threads.size() == 3);
    CHECK((threads[0] == running.serve_thread()) == test.on_event_loop);
    CHECK((threads[1] == running.serve_thread()) == test.on_event_loop);
    CHECK(threads[2] != running.serve_thread());
  }
}

TEST_CASE("a client that does not read its answers holds up no other client") {
  ReceiverOptions options = with_store();
  options.keep_alive_max_requests = 1'000'000;
  options.write_timeout = 30s;  // were the event loop to wait for it, the other client would too
  Running running(std::move(options));
  const std::string request = raw_delivery(fresh(sample("UserRegistered")));

  // The first client sends deliveries in batches that the receiver reads whole, so that the
  // event loop serves them itself, and reads nothing until told to.
  constexpr std::size_t batch_size = 8;
  std::string batch;
  for (std::size_t i = 0; i < batch_size; ++i) batch += request;
  REQUIRE(batch.size() < 8192);  // the receiver reads 8 KiB at a time
  const int reader_less = ::socket(AF_INET, SOCK_STREAM, 0);
  const int small = 4096;
  ::setsockopt(reader_less, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(running.port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(reader_less, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  std::atomic<bool> stop{false}, finished{false};
  std::atomic<std::size_t> sent{0};
  std::thread sender([&] {
    while (!stop) {
      std::size_t done = 0;
      while (done < batch.size()) {
        const ssize_t n =
            ::send(reader_less, batch.data() + done, batch.size() - done, MSG_NOSIGNAL);
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
      }
      if (done < batch.size()) break;
      sent += batch_size;
      // A pause on purpose, so that the receiver reads each batch whole, on its own.
      std::this_thread::sleep_for(1ms);
    }
    finished = true;
  });
  // Until the receiver has stopped reading it: its answers fill every buffer on the way.
  // Stopped means no batch sent for 300 ms: the pause between looks is the condition itself.
  std::size_t last = 0;
  REQUIRE(wait_until(
      "the first client's sends to stop for 300 ms",
      [&] {
        const std::size_t now_sent = sent.load();
        const bool stuck = now_sent == last && last > 0;
        last = now_sent;
        return stuck;
      },
      30s, 300ms));

  // Another client is answered at once all the same.
  const auto start = Steady::now();
  CHECK(status_of(send_request(running.port(), raw_delivery(fresh(sample("PasswordReset"))),
                               false)) == 200);
  CHECK(Steady::now() - start < 3s);

  // Once the first client reads, it gets every answer: the first ok, the rest duplicates.
  stop = true;
  std::string text;
  std::size_t answered = 0, duplicates = 0;
  const auto deadline = Steady::now() + 30s;
  while (!(finished && answered == sent.load()) && receive_more(reader_less, text, deadline)) {
    for (std::size_t end; (end = text.find("\r\n\r\n")) != std::string::npos;) {
      const std::string head = text.substr(0, end + 2);
      const std::size_t size = end + 4 + std::stoull(header_of(head, "Content-Length"));
      if (text.size() < size) break;
      ++answered;
      if (status_of(head) == 200 && header_of(head, "X-Tykhook-Verdict") == "duplicate") {
        ++duplicates;
      }
      text.erase(0, size);
    }
  }
  sender.join();
  CHECK(answered == sent.load());
  CHECK(duplicates + 1 == answered);
  CHECK(text.empty());
  ::shutdown(reader_less, SHUT_WR);
  CHECK(read_until_closed(reader_less, 5s).empty());
  ::close(reader_less);
}
