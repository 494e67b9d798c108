// `tykhook work`: hands on what a receiver queued, without receiving; several workers on one
// SQLite store, on loopback; and listen, queue and work on one Redis store.
#include <doctest/doctest.h>
#include <httplib.h>
#include <signal.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_support.h"
#include "support/application.h"
#include "support/redis.h"

using namespace tykhook::test;
using namespace std::chrono_literals;

namespace {

const std::string secret = "cli-work-secret-0b5e55";
const std::map<std::string, std::string> secret_env = {{"PORTAL_WEBHOOKS_SECRET", secret}};

// Queues every event's sample in `store` through a receiver whose application is down and that
// gives up after one attempt, stops the receiver, and sends the entries back: they wait in the
// store, pending.
void queue_every_event(const std::string& store, const std::string& down_url) {
  Background listen(
      {"listen", "--port", "0", "--store", store, "--forward-to", down_url, "--max-attempts", "1"},
      secret_env);
  const auto lines = read_startup_lines(listen);
  REQUIRE(!lines.empty());
  const int port = listening_port(lines.front());
  REQUIRE(port > 0);
  const Run sent = run_tykhook(
      {"send", "--to", "http://127.0.0.1:" + std::to_string(port) + "/", "--all"}, {}, secret_env);
  REQUIRE(sent.status == 0);
  REQUIRE(wait_until("13 entries dead", [&] { return in_state(store, "dead") == 13; }));
  listen.signal(SIGTERM);
  CHECK(listen.wait(30s).status == 0);
  const Run retried = run_tykhook({"queue", "retry", "--store", store, "--dead"});
  CHECK(retried.err == "tykhook queue retry: 13 dead entries sent back\n");
  CHECK(in_state(store, "pending") == 13);
}

}  // namespace

TEST_CASE("two workers on one store: every entry reaches the application, never by both at once") {
  TempDir dir;
  const std::string store = "sqlite:" + (dir.path() / "queue.db").string();
  Application app;
  queue_every_event(store, app.url());

  // A slow application that notes every delivery in flight: two attempts of one entry at once
  // would meet here. It holds every answer until five attempts are in flight together: with
  // `--concurrency 4` each, only both workers at once get there, so both take a share however
  // slowly the second one starts.
  std::mutex mutex;
  std::condition_variable changed;
  std::set<std::string> in_flight;
  std::vector<std::string> overlaps;
  bool both_working = false;
  app.answer_with([&](const Received& got, httplib::Response& response) {
    const std::string key = got.header("X-Tykhook-Delivery");
    {
      std::unique_lock lock(mutex);
      if (!in_flight.insert(key).second) overlaps.push_back(key);
      if (in_flight.size() >= 5) both_working = true;
      changed.notify_all();
      changed.wait_for(lock, 15s, [&] { return both_working; });
    }
    std::this_thread::sleep_for(50ms);  // the behaviour under test: attempts that take a while
    {
      const std::lock_guard lock(mutex);
      in_flight.erase(key);
    }
    response.status = 200;
  });
  app.start();
  const std::vector<std::string> args = {"work",    "--store",       store, "--forward-to",
                                         app.url(), "--concurrency", "4",   "--forward-timeout",
                                         "30s"};
  Background first(args, secret_env);
  Background second(args, secret_env);
  REQUIRE(wait_until(
      "13 entries done", [&] { return in_state(store, "done") == 13; }, 20s));
  first.signal(SIGTERM);
  second.signal(SIGTERM);
  const Run first_run = first.wait();
  const Run second_run = second.wait();
  CHECK(first_run.status == 0);
  CHECK(second_run.status == 0);

  const std::lock_guard lock(mutex);
  CHECK(both_working);
  CHECK(overlaps.empty());
  std::multiset<std::string> keys;
  for (const auto& got : app.received()) keys.insert(got.header("X-Tykhook-Delivery"));
  CHECK(keys.size() == 13);  // each succeeded at its first attempt here, so once each
  CHECK(std::set<std::string>(keys.begin(), keys.end()).size() == 13);
  // Both took a share: the store handed entries to either.
  CHECK(first_run.err.find(" done -> done ") != std::string::npos);
  CHECK(second_run.err.find(" done -> done ") != std::string::npos);
}

TEST_CASE("work says what it hands on, and refuses what cannot work, with the fix") {
  TempDir dir;
  const std::string store = "sqlite:" + (dir.path() / "queue.db").string();
  const Run no_target = run_tykhook({"work", "--store", store});
  CHECK(no_target.status == 2);
  CHECK(no_target.err == "tykhook work: no target; give --forward-to URL or --exec COMMAND\n");
  const Run no_store = run_tykhook({"work", "--exec", "true"});
  CHECK(no_store.status == 2);
  CHECK(no_store.err.find("--store") != std::string::npos);
  const Run unclosed = run_tykhook({"work", "--store", store, "--exec", "app 'unclosed"});
  CHECK(unclosed.status == 2);
  CHECK(unclosed.err.find("quote") != std::string::npos);

  Background work({"work", "--store", store, "--exec", "true"});
  const auto first = work.next_error_line();
  REQUIRE(first.has_value());
  CHECK(*first == "tykhook work: queue: " + store);
  const auto second = work.next_error_line();
  REQUIRE(second.has_value());
  CHECK(second->starts_with("tykhook work: hands on: each ok delivery to "));
  work.signal(SIGTERM);
  CHECK(work.wait().status == 0);
}

TEST_CASE("on a redis store: listen queues, queue retries the dead ones, work hands them on") {
  const auto store = redis_test_uri();
  if (!store) return;
  Application app;
  // listen with a target, then queue list and retry --dead, all on the Redis store.
  queue_every_event(*store, app.url());
  app.start();
  Background work({"work", "--store", *store, "--forward-to", app.url()}, secret_env);
  const auto first = work.next_error_line();
  REQUIRE(first.has_value());
  CHECK(*first == "tykhook work: queue: " + *store);
  REQUIRE(wait_until(
      "13 entries done", [&] { return in_state(*store, "done") == 13; }, 20s));
  work.signal(SIGTERM);
  CHECK(work.wait().status == 0);
  std::set<std::string> keys;
  for (const auto& got : app.received()) keys.insert(got.header("X-Tykhook-Delivery"));
  CHECK(keys.size() == 13);
  CHECK(in_state(*store, "pending") == 0);
}

TEST_CASE("listen on a redis store with a target says that the queue is shared") {
  const auto store = redis_test_uri();
  if (!store) return;
  Background listen({"listen", "--port", "0", "--store", *store, "--exec", "true"}, secret_env);
  const auto lines = read_startup_lines(listen);
  REQUIRE(lines.size() > 2);
  CAPTURE(lines[2]);
  CHECK(lines[2].ends_with(
      "idempotency keys for 7d, shared by every receiver that uses it, and the queue of "
      "deliveries to hand on; as durable as the server's persistence (appendonly yes keeps "
      "every write)"));
  listen.signal(SIGTERM);
  CHECK(listen.wait(30s).status == 0);
}

TEST_CASE("with Redis down listen answers 503; it and its worker come back with Redis") {
  if (!redis_server_on_path()) {
    redis_unavailable("redis-server is not on PATH", "install redis-server");
    return;
  }
  RedisServer server;
  Application app;
  app.start();
  Background listen({"listen", "--port", "0", "--store", server.uri(), "--forward-to", app.url(),
                     "--retry-base", "20ms", "--retry-cap", "100ms"},
                    secret_env);
  const auto lines = read_startup_lines(listen);
  REQUIRE(!lines.empty());
  const std::string url = "http://127.0.0.1:" + std::to_string(listening_port(lines.front())) + "/";
  const auto send = [&](const std::string& event) {
    return run_tykhook({"send", "--to", url, "--event", event}, {}, secret_env);
  };
  const auto metrics = [&] {
    httplib::Client client("127.0.0.1", listening_port(lines.front()));
    const auto got = client.Get("/metrics");
    REQUIRE(got);
    CHECK(got->status == 200);
    return got->body;
  };
  REQUIRE(send("UserRegistered").status == 0);
  REQUIRE(wait_until("the first delivery handed on", [&] { return app.count() == 1; }));
  REQUIRE(wait_until("its entry done", [&] {
    return metrics().find("tykhook_queue_entries{state=\"done\"} 1\n") != std::string::npos;
  }));
  // The streams' lengths: nothing in flight, no dead letter.
  const std::string up = metrics();
  CHECK(up.find("tykhook_queue_stream_length{stream=\"ready\"} 0\n") != std::string::npos);
  CHECK(up.find("tykhook_queue_stream_length{stream=\"dead_letters\"} 0\n") != std::string::npos);

  server.stop();
  // The metrics are still answered; the queue's gauges, which Redis would give, are left out.
  const std::string down = metrics();
  CHECK(down.find("tykhook_deliveries_total") != std::string::npos);
  CHECK(down.find("tykhook_queue_") == std::string::npos);
  const Run refused = send("PasswordReset");
  CHECK(refused.status != 0);
  CHECK(refused.out.find("HTTP 503") != std::string::npos);
  // Its worker meets the same error while it waits for entries, and goes on.
  CHECK(wait_until("the worker to report the store's error", [&] {
    return listen.error_text().find("Connection refused") != std::string::npos;
  }));

  // Back (empty: this server keeps nothing), and so are the receiver and its worker.
  server.start();
  REQUIRE(wait_until("a delivery to be answered 200 again",
                     [&] { return send("PasswordReset").status == 0; }));
  REQUIRE(wait_until("the delivery sent after the restart handed on",
                     [&] { return app.count() == 2; }));
  CHECK(app.received().back().header("X-Tykhook-Event") == "PasswordReset");
  listen.signal(SIGTERM);
  CHECK(listen.wait(30s).status == 0);
}
