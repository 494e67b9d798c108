// A fleet on one Redis: three `listen --forward-to` receivers and two `tykhook work` processes
// share a Redis of the test's own (AOF on), on loopback. Deliveries go to the receivers
// round-robin, each body twice to two receivers; one worker is killed with attempts in flight,
// and Redis is killed and started again while attempts are in flight and entries wait.
#include <doctest/doctest.h>
#include <httplib.h>
#include <signal.h>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli_support.h"
#include "support/application.h"
#include "support/redis.h"
#include "tykhook/signature.h"
#include "tykhook/timestamp.h"
#include "tykhook/verifier.h"

using namespace tykhook::test;
using namespace std::chrono_literals;

namespace {

const std::string secret = "cli-fleet-secret-5ea1ed";
const std::map<std::string, std::string> secret_env = {{"PORTAL_WEBHOOKS_SECRET", secret}};
constexpr std::size_t concurrency = 4;  // of every forwarding process

// A delivery of its own for each `id`, with a fresh Timestamp.
std::string body_of(int id) {
  static const std::string now = tykhook::format_rfc3339(
      std::chrono::time_point_cast<std::chrono::nanoseconds>(tykhook::Clock::now()));
  return R"({"Event":"OrganisationRegistered","Message":{"ID":)" + std::to_string(id) +
         R"(,"Name":"ACME","CreatedAt":"2024-04-22T16:38:54Z"},"Timestamp":")" + now + R"("})";
}

// The status and verdict a receiver answered (status 0: no answer at all).
struct Answered {
  int status = 0;
  std::string verdict;
};

// One receiver: `listen` on Redis with the application as its target.
struct Receiver {
  std::unique_ptr<Background> process;
  int port = -1;

  explicit Receiver(const std::vector<std::string>& args) {
    process = std::make_unique<Background>(args, secret_env);
    const auto lines = read_startup_lines(*process);
    REQUIRE(!lines.empty());
    port = listening_port(lines.front());
    REQUIRE(port > 0);
  }

  Answered send(const std::string& body) const {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(10s);
    const auto result = client.Post("/hook", {{"X-Signature-SHA256", tykhook::sign(secret, body)}},
                                    body, "application/json");
    if (!result) return {};
    return {result->status, result->get_header_value("X-Tykhook-Verdict")};
  }
};

// The forwarding options every process of the fleet takes; `name` comes with each request it
// forwards, so the application knows who sent it. The lease is twice the
// timeout (10 s), longer than the gate holds any attempt.
std::vector<std::string> forwarding(const std::string& url, const std::string& name) {
  return {"--forward-to",      url,
          "--forward-timeout", "5s",
          "--concurrency",     std::to_string(concurrency),
          "--forward-header",  "X-Fleet-Process: " + name};
}

std::vector<std::string> concat(std::vector<std::string> head,
                                const std::vector<std::string>& tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

}  // namespace

TEST_CASE(
    "three receivers and two workers on one Redis: every delivery handed on, through a kill -9 "
    "of a worker and a restart of Redis") {
  if (!redis_server_on_path()) {
    redis_unavailable("redis-server is not on PATH", "install redis-server");
    return;
  }
  TempDir dir;
  // Every acknowledged write is in the append-only file before Redis answers it.
  RedisServer server(
      {"--appendonly", "yes", "--appendfsync", "always", "--dir", dir.path().string()});
  const std::string store = server.uri();

  // The application: the victim's requests are held until it is dead (so its attempts are in
  // flight when it dies), and the others' wait at a gate while the test closes it (so attempts
  // are in flight, and entries queued, while Redis restarts).
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::string> victim_keys;
  bool victim_dead = false;
  bool gate_closed = false;
  std::size_t held = 0;
  Application app;
  app.answer_with([&](const Received& got, httplib::Response& response) {
    std::unique_lock lock(mutex);
    if (got.header("X-Fleet-Process") == "victim") {
      victim_keys.push_back(got.header("X-Tykhook-Delivery"));
      changed.notify_all();
      changed.wait_for(lock, 30s, [&] { return victim_dead; });
    } else {
      ++held;
      changed.notify_all();
      changed.wait_for(lock, 30s, [&] { return !gate_closed; });
      --held;
    }
    response.status = 200;
  });
  app.start();
  const auto close_gate = [&] {
    const std::lock_guard lock(mutex);
    gate_closed = true;
  };
  const auto open_gate = [&] {
    const std::lock_guard lock(mutex);
    gate_closed = false;
    changed.notify_all();
  };
  // Whether `count` attempts (victim's aside) came to be held at the gate within 30 s (a loaded
  // machine is slow).
  const auto wait_for_held = [&](std::size_t count) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, 30s, [&] { return held == count; });
  };

  std::vector<Receiver> receivers;
  for (int i = 0; i < 3; ++i) {
    receivers.emplace_back(concat({"listen", "--port", "0", "--store", store},
                                  forwarding(app.url(), "listen-" + std::to_string(i))));
  }
  Background victim(concat({"work", "--store", store}, forwarding(app.url(), "victim")),
                    secret_env);
  Background survivor(concat({"work", "--store", store}, forwarding(app.url(), "survivor")),
                      secret_env);

  std::map<std::string, std::string> bodies;  // by idempotency key
  // Sends delivery `id` to one receiver, then its copy to the next one.
  const auto send_twice = [&](int id) {
    const std::string body = body_of(id);
    bodies[tykhook::idempotency_key(body)] = body;
    const Answered first = receivers[id % 3].send(body);
    const Answered second = receivers[(id + 1) % 3].send(body);
    CAPTURE(id);
    CHECK(first.status == 200);
    CHECK(first.verdict == "ok");
    CHECK(second.status == 200);
    CHECK(second.verdict == "duplicate");
  };

  // 1. Half of the deliveries, the gate closed: the receivers' own workers (woken at once) fill
  // their slots, the rest wait in Redis for the workers' next look; the victim is killed with
  // attempts in flight.
  constexpr int half = 150;
  close_gate();
  for (int id = 0; id < half; ++id) send_twice(id);
  REQUIRE(wait_for_held(4 * concurrency));
  {
    std::unique_lock lock(mutex);
    REQUIRE(changed.wait_for(lock, 30s, [&] { return !victim_keys.empty(); }));
  }
  victim.signal(SIGKILL);
  CHECK(victim.wait().status == 128 + SIGKILL);
  {
    const std::lock_guard lock(mutex);
    victim_dead = true;
    changed.notify_all();
  }
  open_gate();
  REQUIRE(wait_until("the first half to reach the application", [&] {
    std::set<std::string> keys;
    for (const auto& got : app.received()) keys.insert(got.header("X-Tykhook-Delivery"));
    return keys.size() == half;
  }));

  // 2. The other half, with the gate closed: the live forwarders' attempts are held in flight
  // and the rest wait in Redis, which is killed and started again meanwhile.
  close_gate();
  for (int id = half; id < 2 * half; ++id) send_twice(id);
  // Every slot of the four live forwarders holds an attempt.
  REQUIRE(wait_for_held(4 * concurrency));
  server.stop();
  // With Redis down nothing is acknowledged: the receivers answer 503.
  const std::string late = body_of(2 * half);
  bodies[tykhook::idempotency_key(late)] = late;
  for (const auto& receiver : receivers) CHECK(receiver.send(late).status == 503);
  server.start();
  REQUIRE(wait_until(
      "a receiver to answer again once Redis is back",
      [&] { return receivers[0].send(late).status == 200; }, 10s, 50ms));
  CHECK(receivers[1].send(late).verdict == "duplicate");
  // The claims answered before the restart survived it.
  CHECK(receivers[2].send(body_of(0)).verdict == "duplicate");
  CHECK(receivers[2].send(body_of(2 * half - 1)).verdict == "duplicate");
  open_gate();

  // 3. Every delivery is done (the victim's after its lease ran out) and reached the
  // application, byte for byte with the portal's signature.
  REQUIRE(wait_until(
      "every delivery done", [&] { return in_state(store, "done") == bodies.size(); }, 40s, 200ms));
  std::map<std::string, std::vector<std::string>> reached;  // senders by key
  for (const auto& got : app.received()) {
    const std::string key = got.header("X-Tykhook-Delivery");
    reached[key].push_back(got.header("X-Fleet-Process"));
    CAPTURE(key);
    REQUIRE(bodies.contains(key));
    CHECK(got.body == bodies[key]);
    CHECK(got.header("X-Signature-SHA256") == tykhook::sign(secret, got.body));
  }
  CHECK(reached.size() == bodies.size());
  CHECK(in_state(store, "pending") == 0);
  CHECK(in_state(store, "retrying") == 0);
  CHECK(in_state(store, "dead") == 0);
  // At least once, never zero: a delivery reaches the application twice only when the killed
  // worker had its attempt in flight (taken over after its lease), so at most as many as its
  // --concurrency; no other one twice, none three times.
  std::set<std::string> twice;
  for (const auto& entry : reached) {
    // Not a structured binding: clang 14 cannot capture one in CAPTURE's lambda.
    const std::string& key = entry.first;
    const auto& senders = entry.second;
    CAPTURE(key);
    CHECK(senders.size() <= 2);
    if (senders.size() == 2) {
      twice.insert(key);
      CHECK(senders.front() == "victim");
      CHECK(senders.back() != "victim");
    }
  }
  {
    const std::lock_guard lock(mutex);
    CHECK(twice == std::set<std::string>(victim_keys.begin(), victim_keys.end()));
  }
  CHECK(!twice.empty());
  CHECK(twice.size() <= concurrency);

  survivor.signal(SIGTERM);
  CHECK(survivor.wait(30s).status == 0);
  for (auto& receiver : receivers) {
    receiver.process->signal(SIGTERM);
    CHECK(receiver.process->wait(30s).status == 0);
  }
}
