// Handing deliveries on, end to end: `tykhook listen --forward-to/--exec` on loopback, an
// application that is down, failing or slow, and `tykhook queue` to see and change the queue.
#include <doctest/doctest.h>
#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli_support.h"
#include "support/application.h"
#include "tykhook/signature.h"
#include "tykhook/verifier.h"

using namespace tykhook::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string secret = "cli-queue-secret-51c0de";

// A `tykhook listen` handing deliveries on, on a free port, with a SQLite store in `dir`.
struct Receiver {
  Receiver(const TempDir& dir, std::vector<std::string> extra)
      : store("sqlite:" + (dir.path() / "queue.db").string()) {
    std::vector<std::string> args = {"listen", "--port",       "0",   "--store",
                                     store,    "--retry-base", "20ms"};
    // Short waits, so that retries come within a test's patience.
    if (std::find(extra.begin(), extra.end(), "--retry-cap") == extra.end()) {
      args.insert(args.end(), {"--retry-cap", "100ms"});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    process = std::make_unique<Background>(
        args, std::map<std::string, std::string>{{"PORTAL_WEBHOOKS_SECRET", secret}});
    startup = read_startup_lines(*process);
    port = startup.empty() ? -1 : listening_port(startup.front());
    INFO("listen's standard error: " << process->error_text());
    REQUIRE(port > 0);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/webhooks/tyk"; }
  // Sends `event`'s sample through `tykhook send`; returns what send printed and its status.
  Run send(const std::string& event) const {
    return run_tykhook({"send", "--to", url(), "--event", event}, {},
                       {{"PORTAL_WEBHOOKS_SECRET", secret}});
  }
  Run send_all() const {
    return run_tykhook({"send", "--to", url(), "--all"}, {}, {{"PORTAL_WEBHOOKS_SECRET", secret}});
  }

  std::string store;
  std::unique_ptr<Background> process;
  std::vector<std::string> startup;
  int port = -1;
};

// `tykhook queue list --format json` of `store`, one object per entry.
std::vector<nlohmann::json> queue_list(const std::string& store, const std::string& state = "") {
  std::vector<std::string> args = {"queue", "list", "--store", store, "--format", "json"};
  if (!state.empty()) args.insert(args.end(), {"--state", state});
  const Run run = run_tykhook(args);
  REQUIRE(run.status == 0);
  std::vector<nlohmann::json> entries;
  std::istringstream lines(run.out);
  for (std::string line; std::getline(lines, line);) entries.push_back(nlohmann::json::parse(line));
  return entries;
}

}  // namespace

TEST_CASE("while the application is down every delivery is answered 200, and reaches it later") {
  TempDir dir;
  Application app;  // not started: down
  Receiver receiver(dir, {"--forward-to", app.url()});
  REQUIRE(receiver.startup.size() == 6);
  CAPTURE(receiver.startup[2]);
  CHECK(receiver.startup[2].ends_with(
      "idempotency keys for 7d, on disk, and the queue of deliveries to hand on"));
  CHECK(receiver.startup[4] == "tykhook listen: hands on: each ok delivery to " + app.url() +
                                   ", 8 at once; a failed attempt is tried again after a random "
                                   "wait of up to 20ms, doubling to 100ms, until 100 attempts or "
                                   "3d (then dead: tykhook queue retry --dead)");
  CHECK(receiver.startup[5] ==
        "tykhook listen: kept: every ok delivery, its exact request, in the store's queue before "
        "its answer, until " +
            app.url() +
            " takes it (tykhook queue list shows them); add --capture-dir DIR to keep the "
            "authentic deliveries that fail a check too");

  const Run sent = receiver.send_all();
  REQUIRE(sent.status == 0);  // every answer 2xx, at once
  const std::size_t sent_count = 13;
  REQUIRE(wait_until("every delivery retrying while the application is down",
                     [&] { return in_state(receiver.store, "retrying") == sent_count; }));
  // The log line of a failed attempt is written after the entry is marked retrying: wait for it.
  CHECK(wait_until("the log names the refused connection", [&] {
    return receiver.process->error_text().find("connection") != std::string::npos;
  }));

  app.start();
  REQUIRE(wait_until(
      "every delivery done once the application is back",
      [&] { return in_state(receiver.store, "done") == sent_count; }, 20s));
  // Each reached the application with the portal's own signature over the exact bytes, and
  // the headers that name it.
  std::set<std::string> keys;
  for (const auto& got : app.received()) {
    CHECK(got.method == "POST");
    CHECK(got.path == "/hook");
    CHECK(got.header("X-Signature-SHA256") == tykhook::sign(secret, got.body));
    CHECK(got.header("X-Tykhook-Delivery") == tykhook::idempotency_key(got.body));
    CHECK(got.header("Content-Type") == "application/json");
    CHECK_FALSE(got.header("X-Tykhook-Event").empty());
    CHECK(std::stoi(got.header("X-Tykhook-Attempt")) >= 2);
    keys.insert(got.header("X-Tykhook-Delivery"));
  }
  CHECK(keys.size() == sent_count);
}

TEST_CASE(
    "an application that answers 500 forever: max-attempts, then dead; retry --dead revives") {
  TempDir dir;
  Application app;
  app.answer_with([](const Received&, httplib::Response& response) { response.status = 500; });
  app.start();
  Receiver receiver(dir, {"--forward-to", app.url(), "--max-attempts", "3"});
  REQUIRE(receiver.send("UserRegistered").status == 0);
  REQUIRE(wait_until("the delivery dead after 3 attempts",
                     [&] { return in_state(receiver.store, "dead") == 1; }));
  const auto got = app.received();
  REQUIRE(got.size() == 3);
  for (std::size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].header("X-Tykhook-Attempt") == std::to_string(i + 1));
  }
  const auto dead = queue_list(receiver.store, "dead");
  REQUIRE(dead.size() == 1);
  CHECK(dead[0]["attempts"] == 3);
  CHECK(dead[0]["next_attempt"].is_null());
  CHECK(dead[0]["last_error"].get<std::string>().find("500") != std::string::npos);
  CHECK(dead[0]["last_error"].get<std::string>().find("--max-attempts") != std::string::npos);

  app.answer_with([](const Received&, httplib::Response& response) { response.status = 204; });
  const Run retried = run_tykhook({"queue", "retry", "--store", receiver.store, "--dead"});
  CHECK(retried.status == 0);
  CHECK(retried.err.find("1 dead entry sent back") != std::string::npos);
  REQUIRE(wait_until("the revived delivery done",
                     [&] { return in_state(receiver.store, "done") == 1; }));
  CHECK(app.received().back().header("X-Tykhook-Attempt") == "1");
}

TEST_CASE("a 400 is dead at once; a 429 waits for its Retry-After") {
  TempDir dir;
  Application app;
  std::atomic<int> calls{0};
  app.answer_with([&](const Received& got, httplib::Response& response) {
    if (got.header("X-Tykhook-Event") == "UserRegistered") {
      response.status = 400;
    } else if (calls++ == 0) {
      response.status = 429;
      response.set_header("Retry-After", "1");
    } else {
      response.status = 200;
    }
  });
  app.start();
  Receiver receiver(dir, {"--forward-to", app.url(), "--retry-cap", "10s"});
  REQUIRE(receiver.send("UserRegistered").status == 0);
  REQUIRE(receiver.send("PasswordReset").status == 0);
  REQUIRE(wait_until("one dead and one done", [&] {
    return in_state(receiver.store, "dead") == 1 && in_state(receiver.store, "done") == 1;
  }));
  std::vector<Received> reset;
  for (const auto& got : app.received()) {
    if (got.header("X-Tykhook-Event") == "PasswordReset") reset.push_back(got);
  }
  REQUIRE(reset.size() == 2);
  // The drawn wait is at most 20ms; Retry-After asked for a second.
  CHECK(reset[1].at - reset[0].at >= 950ms);
  const auto dead = queue_list(receiver.store, "dead");
  REQUIRE(dead.size() == 1);
  CHECK(dead[0]["attempts"] == 1);
  CHECK(dead[0]["event"] == "UserRegistered");
}

TEST_CASE("queue show, export and drop name an entry by its key; unknown keys exit 1") {
  TempDir dir;
  Application app;  // down: entries stay retrying
  Receiver receiver(dir, {"--forward-to", app.url()});
  REQUIRE(receiver.send("ApplicationRegistered").status == 0);
  REQUIRE(wait_until("one entry", [&] { return queue_list(receiver.store).size() == 1; }));
  const std::string key = queue_list(receiver.store)[0]["key"];

  const Run shown = run_tykhook({"queue", "show", "--store", receiver.store, key});
  CHECK(shown.status == 0);
  CHECK(shown.out.find("key:          " + key) != std::string::npos);
  CHECK(shown.out.find("event:        ApplicationRegistered") != std::string::npos);
  CHECK(shown.out.find("X-Signature-SHA256: ") != std::string::npos);

  // The export is a capture that verify accepts as it came from the portal.
  const Run exported = run_tykhook({"queue", "export", "--store", receiver.store, key});
  REQUIRE(exported.status == 0);
  const std::string capture = dir.write("capture.json", exported.out);
  const Run verified = run_tykhook({"verify", capture}, {}, {{"PORTAL_WEBHOOKS_SECRET", secret}});
  CHECK(verified.status == 0);
  CHECK(verified.out.find("ok") != std::string::npos);

  const std::string unknown(64, 'f');
  const Run missing = run_tykhook({"queue", "show", "--store", receiver.store, unknown});
  CHECK(missing.status == 1);
  CHECK(missing.err.find("no such entry") != std::string::npos);

  CHECK(run_tykhook({"queue", "drop", "--store", receiver.store, key}).status == 0);
  CHECK(queue_list(receiver.store).empty());
}

TEST_CASE("queue refuses a store it cannot reach and a missing store option, with the fix") {
  const Run redis = run_tykhook({"queue", "list", "--store", "redis://127.0.0.1:1"});
  CHECK(redis.status == 2);
  CHECK(redis.err.starts_with("tykhook queue"));
  const Run none = run_tykhook({"queue", "list"});
  CHECK(none.status == 2);
  CHECK(none.err.find("--store") != std::string::npos);
  const Run both = run_tykhook({"queue", "retry", "--store", "memory:", "--dead", "abc"});
  CHECK(both.status == 2);
}

TEST_CASE("listen refuses a target with a store that holds no queue, and two targets at once") {
  TempDir dir;
  const std::map<std::string, std::string> env = {{"PORTAL_WEBHOOKS_SECRET", secret}};
  const Run two = run_tykhook(
      {"listen", "--port", "0", "--forward-to", "http://127.0.0.1:9/", "--exec", "true"}, {}, env);
  CHECK(two.status == 2);
  CHECK(two.err.find("--exec") != std::string::npos);
  const Run bad_url = run_tykhook(
      {"listen", "--port", "0", "--store", "memory:", "--forward-to", "ftp://x/"}, {}, env);
  CHECK(bad_url.status == 2);
  CHECK(bad_url.err.find("ftp://x/") != std::string::npos);
}

TEST_CASE("exec: the body on standard input, the event in the environment, and no shell") {
  TempDir dir;
  const fs::path out = dir.path() / "out";
  const fs::path marker = dir.path() / "marker";
  // The script is the application: it appends what it got, as a person would with --exec.
  const std::string script =
      dir.write("app.sh",
                "#!/bin/sh\nprintf '%s|%s|%s\\n' \"$TYKHOOK_EVENT\" \"$TYKHOOK_ATTEMPT\" "
                "\"${PORTAL_WEBHOOKS_SECRET:-hidden}\" >> " +
                    out.string() + "\ncat >> " + out.string() + "\necho >> " + out.string() + "\n");
  fs::permissions(script, fs::perms::owner_all);
  Receiver receiver(dir, {"--exec", script, "--allow-unknown-events", "--tolerance", "off"});
  // An event name that a shell would run: it must stay a string.
  const std::string hostile = "{\"Event\":\"$(touch " + marker.string() +
                              ")\",\"Message\":{},\"Timestamp\":\"2026-12-05T12:00:00Z\"}";
  const std::string body_file = dir.write("hostile.json", hostile);
  const Run sent = run_tykhook({"send", "--to", receiver.url(), "--body", body_file}, {},
                               {{"PORTAL_WEBHOOKS_SECRET", secret}});
  REQUIRE(sent.status == 0);
  REQUIRE(wait_until("the command ran", [&] { return in_state(receiver.store, "done") == 1; }));
  const std::string written = read_file(out);
  CHECK(written == "$(touch " + marker.string() + ")|1|hidden\n" + hostile + "\n");
  CHECK_FALSE(fs::exists(marker));
}

TEST_CASE("exec: exit 75 is tried again, exit 1 is dead") {
  TempDir dir;
  const fs::path count = dir.path() / "count";
  // Fails with EX_TEMPFAIL on its first run, then succeeds; UserRegistered always exits 1.
  const std::string script =
      dir.write("app.sh",
                "#!/bin/sh\n[ \"$TYKHOOK_EVENT\" = UserRegistered ] && exit 1\n"
                "[ -e " +
                    count.string() + " ] && exit 0\ntouch " + count.string() + "\nexit 75\n");
  fs::permissions(script, fs::perms::owner_all);
  Receiver receiver(dir, {"--exec", script});
  REQUIRE(receiver.send("UserRegistered").status == 0);
  REQUIRE(receiver.send("PasswordReset").status == 0);
  REQUIRE(wait_until("one done, one dead", [&] {
    return in_state(receiver.store, "done") == 1 && in_state(receiver.store, "dead") == 1;
  }));
  const auto done = queue_list(receiver.store, "done");
  CHECK(done[0]["attempts"] == 2);
  const auto dead = queue_list(receiver.store, "dead");
  CHECK(dead[0]["attempts"] == 1);
  CHECK(dead[0]["last_error"].get<std::string>().find("exited 1") != std::string::npos);
}

TEST_CASE("kill -9 with deliveries waiting: after a restart every one reaches the application") {
  TempDir dir;
  Application app;  // down
  std::string store;
  {
    // A short timeout, so that the leases of the attempts the kill interrupts end soon.
    Receiver receiver(dir, {"--forward-to", app.url(), "--forward-timeout", "1s"});
    store = receiver.store;
    REQUIRE(receiver.send_all().status == 0);
    receiver.process->signal(SIGKILL);
    receiver.process->wait();
  }
  CHECK(queue_list(store).size() == 13);
  app.start();
  Receiver again(dir, {"--forward-to", app.url(), "--forward-timeout", "1s"});
  REQUIRE(wait_until(
      "every delivery done after the restart", [&] { return in_state(store, "done") == 13; }, 20s));
  std::set<std::string> keys;
  for (const auto& got : app.received()) keys.insert(got.header("X-Tykhook-Delivery"));
  CHECK(keys.size() == 13);
}
