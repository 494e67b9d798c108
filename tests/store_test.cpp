// The store tests. One behaviour suite runs against every store; Redis joins it when
// TYKHOOK_TEST_REDIS_URI names a server (CI sets it, and with CI set and no server the Redis
// tests fail). The restart and password tests start redis-server processes of their own.

#include "tykhook/store.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <latch>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/files.h"
#include "support/loopback.h"
#include "support/process.h"
#include "support/redis.h"
#include "support/wait.h"
#include "tykhook/error.h"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using tykhook::open_store;
using tykhook::Store;
using tykhook::StoreOptions;
using tykhook::test::accepts_connections;
using tykhook::test::free_port;
using tykhook::test::redis_server_on_path;
using tykhook::test::redis_test_uri;
using tykhook::test::redis_unavailable;
using tykhook::test::RedisServer;
using tykhook::test::spawn;
using tykhook::test::TempDir;
using tykhook::test::unique_name;
using tykhook::test::wait_exit;
using tykhook::test::wait_until;
using tykhook::test::whole_lines;

constexpr auto long_ttl = std::chrono::milliseconds(10min);

// Where the behaviour suite keeps its SQLite files: in memory (/dev/shm) when there is one.
// The suite tests what a claim means, and 10 000 winning claims that each wait for a disk sync
// take over ten seconds; the SIGKILL test, which is about durability, uses the real disk.
// WAL locking across processes works the same in memory.
std::filesystem::path fast_directory() {
  std::error_code ignored;
  if (std::filesystem::is_directory("/dev/shm", ignored) && access("/dev/shm", W_OK) == 0) {
    return "/dev/shm";
  }
  return std::filesystem::temp_directory_path();
}

// The message of the tykhook::Error that `open` throws, or "" when it throws none.
template <class Open>
std::string error_of(Open&& open) {
  try {
    open();
  } catch (const tykhook::Error& e) {
    return e.what();
  }
  return "";
}

struct StoreUnderTest {
  std::string name;
  std::unique_ptr<Store> store;
};

// The behaviour suite's subjects: each store kind, freshly opened.
std::vector<StoreUnderTest> stores_under_test(const TempDir& dir) {
  std::vector<StoreUnderTest> stores;
  stores.push_back({"memory", open_store("memory:")});
  stores.push_back({"sqlite", open_store("sqlite:" + dir.file("behaviour.db"))});
  if (const auto uri = redis_test_uri()) stores.push_back({"redis", open_store(*uri)});
  return stores;
}

// Sets an environment variable for one scope and restores the previous state after it.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const char* value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) previous_ = old;
    if (value == nullptr) {
      unsetenv(name_.c_str());
    } else {
      setenv(name_.c_str(), value, 1);
    }
  }
  ~ScopedEnv() {
    if (previous_) {
      setenv(name_.c_str(), previous_->c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> previous_;
};

}  // namespace

// ---- the behaviour suite, run against every store --------------------------------------------

TEST_CASE("the first claim of a key wins and every later claim is a duplicate") {
  const TempDir dir(fast_directory());
  for (const StoreUnderTest& under_test : stores_under_test(dir)) {
    // Not a structured binding: CAPTURE and lambdas cannot capture one (C++20, clang 14).
    const std::string& name = under_test.name;
    const std::unique_ptr<Store>& store = under_test.store;
    CAPTURE(name);
    CHECK(store->claim("a", long_ttl));
    CHECK_FALSE(store->claim("a", long_ttl));
    CHECK_FALSE(store->claim("a", long_ttl));
    CHECK(store->claim("b", long_ttl));
    // Keys are bytes: a NUL inside does not end them.
    CHECK(store->claim(std::string_view("k\0x", 3), long_ttl));
    CHECK(store->claim(std::string_view("k\0y", 3), long_ttl));
    CHECK_FALSE(store->claim(std::string_view("k\0x", 3), long_ttl));
    CHECK(store->claim(std::string(64, 'f'), long_ttl));
  }
}

TEST_CASE("a claim expires after its ttl and the key can be claimed again") {
  const TempDir dir(fast_directory());
  for (const StoreUnderTest& under_test : stores_under_test(dir)) {
    // Not a structured binding: CAPTURE and lambdas cannot capture one (C++20, clang 14).
    const std::string& name = under_test.name;
    const std::unique_ptr<Store>& store = under_test.store;
    CAPTURE(name);
    CHECK(store->claim("short", 100ms));
    CHECK(store->claim("long", long_ttl));
    CHECK_FALSE(store->claim("short", 100ms));
    // The ttl must run out: the time passing is what is tested (a claim to poll with would
    // itself renew the key).
    std::this_thread::sleep_for(250ms);
    CHECK(store->claim("short", 100ms));
    CHECK_FALSE(store->claim("long", long_ttl));
  }
}

TEST_CASE("a released key can be claimed again, once") {
  const TempDir dir(fast_directory());
  for (const StoreUnderTest& under_test : stores_under_test(dir)) {
    // Not a structured binding: CAPTURE and lambdas cannot capture one (C++20, clang 14).
    const std::string& name = under_test.name;
    const std::unique_ptr<Store>& store = under_test.store;
    CAPTURE(name);
    CHECK(store->claim("a", long_ttl));
    store->release("a");
    CHECK(store->claim("a", long_ttl));
    CHECK_FALSE(store->claim("a", long_ttl));
    store->release("never claimed");
    CHECK(store->claim("never claimed", long_ttl));
  }
}

TEST_CASE("8 threads claiming the same 10 000 keys find exactly one winner per key") {
  constexpr int thread_count = 8;
  constexpr int key_count = 10'000;
  const TempDir dir(fast_directory());
  for (const StoreUnderTest& under_test : stores_under_test(dir)) {
    // Not a structured binding: CAPTURE and lambdas cannot capture one (C++20, clang 14).
    const std::string& name = under_test.name;
    const std::unique_ptr<Store>& store = under_test.store;
    CAPTURE(name);
    std::vector<std::atomic<int>> wins(key_count);
    std::atomic<int> errors{0};
    std::latch start(thread_count);
    std::vector<std::thread> threads;
    for (int t = 0; t < thread_count; ++t) {
      threads.emplace_back([&, t] {
        start.arrive_and_wait();
        // Half the threads walk forwards, half backwards: both meet on every key.
        for (int i = 0; i < key_count; ++i) {
          const int k = t % 2 == 0 ? i : key_count - 1 - i;
          try {
            if (store->claim("key-" + std::to_string(k), long_ttl)) ++wins[k];
          } catch (const std::exception&) {
            ++errors;
          }
        }
      });
    }
    for (auto& thread : threads) thread.join();
    int not_one = 0;
    for (const auto& count : wins) not_one += count != 1 ? 1 : 0;
    CHECK(errors == 0);
    CHECK(not_one == 0);
  }
}

TEST_CASE("a ttl that is not positive is a programming error") {
  const TempDir dir(fast_directory());
  for (const StoreUnderTest& under_test : stores_under_test(dir)) {
    // Not a structured binding: CAPTURE and lambdas cannot capture one (C++20, clang 14).
    const std::string& name = under_test.name;
    const std::unique_ptr<Store>& store = under_test.store;
    CAPTURE(name);
    CHECK_THROWS_AS((void)store->claim("a", 0ms), std::invalid_argument);
    CHECK_THROWS_AS((void)store->claim("a", -1ms), std::invalid_argument);
    CHECK(store->claim("a", long_ttl));
  }
}

TEST_CASE(
    "size counts the live keys where that is cheap, durable says who survives a crash, and "
    "never_waits who never waits") {
  const TempDir dir(fast_directory());
  for (const StoreUnderTest& under_test : stores_under_test(dir)) {
    // Not a structured binding: CAPTURE and lambdas cannot capture one (C++20, clang 14).
    const std::string& name = under_test.name;
    const std::unique_ptr<Store>& store = under_test.store;
    CAPTURE(name);
    CHECK(store->claim("a", long_ttl));
    CHECK(store->claim("b", long_ttl));
    CHECK(store->claim("c", 50ms));
    // "c" must expire: the time passing is what is tested.
    std::this_thread::sleep_for(120ms);
    const auto size = store->size();
    if (name == "redis") {
      CHECK_FALSE(size.has_value());
    } else {
      CHECK(size == std::optional<std::size_t>(2));
    }
    CHECK(store->durable() == (name == "sqlite"));
    // Only the memory store is served on the receiver's event loop.
    CHECK(store->never_waits() == (name == "memory"));
  }
}

// ---- memory ----------------------------------------------------------------------------------

TEST_CASE("a full memory store forgets the oldest key first") {
  const auto store = open_store("memory:", StoreOptions{.memory_max_keys = 3});
  CHECK(store->claim("a", long_ttl));
  CHECK(store->claim("b", long_ttl));
  CHECK(store->claim("c", long_ttl));
  CHECK(store->claim("d", long_ttl));
  CHECK(store->size() == std::optional<std::size_t>(3));
  CHECK_FALSE(store->claim("b", long_ttl));
  CHECK_FALSE(store->claim("c", long_ttl));
  CHECK_FALSE(store->claim("d", long_ttl));
  CHECK(store->claim("a", long_ttl));
}

TEST_CASE("a full memory store forgets the key that expires first, whatever its age") {
  const auto store = open_store("memory:", StoreOptions{.memory_max_keys = 2});
  CHECK(store->claim("old, long", long_ttl));
  CHECK(store->claim("new, short", 1min));
  CHECK(store->claim("newest", long_ttl));
  CHECK_FALSE(store->claim("old, long", long_ttl));
  CHECK(store->claim("new, short", 1min));
}

TEST_CASE("a memory store allowed no keys is a programming error") {
  CHECK_THROWS_AS((void)open_store("memory:", StoreOptions{.memory_max_keys = 0}),
                  std::invalid_argument);
}

// ---- SQLite ----------------------------------------------------------------------------------

TEST_CASE("two sqlite stores on one file see each other's claims") {
  const TempDir dir;
  const std::string uri = "sqlite:" + dir.file("shared.db");
  const auto first = open_store(uri);
  const auto second = open_store(uri);
  CHECK(first->claim("a", long_ttl));
  CHECK_FALSE(second->claim("a", long_ttl));
  second->release("a");
  CHECK(first->claim("a", long_ttl));
}

#ifndef TYKHOOK_STORE_CLAIMER
#error "store_test runs the store_claimer program: define TYKHOOK_STORE_CLAIMER as its path"
#endif

TEST_CASE("several processes claiming the same keys on one sqlite file find one winner per key") {
  constexpr int process_count = 4;
  constexpr int key_count = 2'000;
  // The claimers pause briefly after each claim, so that they keep pace and race on the same
  // keys: SQLite's lock waits are not fair, and without pauses one process may win every lock.
  // A round that one process won entirely still counts, but then another one is run.
  constexpr int max_rounds = 3;
  const TempDir dir(fast_directory());
  int races = 0;
  for (int round = 0; round < max_rounds && races == 0; ++round) {
    CAPTURE(round);
    const std::string uri = "sqlite:" + dir.file("processes-" + std::to_string(round) + ".db");
    // Create the file first, so that the processes race on claims rather than on the schema.
    (void)open_store(uri);
    // All start claiming at one moment, once each has opened the store.
    const auto start = std::chrono::duration_cast<std::chrono::milliseconds>(
        (std::chrono::system_clock::now() + 300ms).time_since_epoch());
    std::vector<pid_t> pids;
    for (int p = 0; p < process_count; ++p) {
      pids.push_back(spawn({TYKHOOK_STORE_CLAIMER, uri, "0", std::to_string(key_count),
                            std::to_string(start.count()), "50"},
                           dir.file("out-" + std::to_string(p))));
    }
    for (const auto pid : pids) CHECK(wait_exit(pid) == 0);
    std::multiset<std::string> won;
    int processes_that_won = 0;
    for (int p = 0; p < process_count; ++p) {
      auto lines = whole_lines(dir.file("out-" + std::to_string(p)));
      processes_that_won += lines.empty() ? 0 : 1;
      for (auto& key : lines) won.insert(std::move(key));
    }
    races += processes_that_won > 1 ? 1 : 0;
    CHECK(won.size() == key_count);
    CHECK(std::set<std::string>(won.begin(), won.end()).size() == key_count);
  }
  // Guards the test itself: without a round that several processes won, nothing raced.
  CHECK(races == 1);
}

TEST_CASE("every claim that a process reported survives a SIGKILL of the process") {
  const TempDir dir;
  const std::string uri = "sqlite:" + dir.file("killed.db");
  const std::string out = dir.file("out");
  const pid_t pid = spawn({TYKHOOK_STORE_CLAIMER, uri, "0", "1000000"}, out);
  // Kill it mid-run: once it has reported a hundred claims.
  wait_until("the claimer to report 100 claims", [&] { return whole_lines(out).size() >= 100; });
  kill(pid, SIGKILL);
  CHECK(wait_exit(pid) == -1);
  const auto reported = whole_lines(out);
  REQUIRE(reported.size() >= 100);
  const auto store = open_store(uri);
  int lost = 0;
  for (const auto& key : reported) lost += store->claim(key, long_ttl) ? 1 : 0;
  CHECK(lost == 0);
}

TEST_CASE("every claim that one of 8 threads reported survives a SIGKILL, and none twice") {
  // The threads race on every key, so their claims are committed in groups (several claims per
  // transaction): a claim reported is committed, whatever group it was in.
  const TempDir dir;
  const std::string uri = "sqlite:" + dir.file("killed-threads.db");
  const std::string out = dir.file("out");
  const pid_t pid = spawn({TYKHOOK_STORE_CLAIMER, uri, "0", "1000000", "0", "0", "8"}, out);
  wait_until("the claimer to report 200 claims", [&] { return whole_lines(out).size() >= 200; });
  kill(pid, SIGKILL);
  CHECK(wait_exit(pid) == -1);
  const auto reported = whole_lines(out);
  REQUIRE(reported.size() >= 200);
  CHECK(std::set<std::string>(reported.begin(), reported.end()).size() == reported.size());
  const auto store = open_store(uri);
  int lost = 0;
  for (const auto& key : reported) lost += store->claim(key, long_ttl) ? 1 : 0;
  CHECK(lost == 0);
}

TEST_CASE("a sqlite claim that waits longer than the busy timeout for a lock is a tykhook::Error") {
  const TempDir dir;
  const std::string path = dir.file("locked.db");
  const std::string uri = "sqlite:" + path;
  const auto store = open_store(uri, StoreOptions{.sqlite_busy_timeout = 200ms});
  CHECK(store->claim("before", long_ttl));
  // Another writer holds the write lock, as a stuck process would.
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  const auto start = std::chrono::steady_clock::now();
  const auto message = error_of([&] { (void)store->claim("during", long_ttl); });
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(message.starts_with("store \"" + uri + "\": cannot record a claim: database is locked"));
  CHECK(message.find("another process holds the database locked") != std::string::npos);
  CHECK(waited >= 200ms);
  CHECK(waited < 2s);
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  CHECK(store->claim("during", long_ttl));
  CHECK_FALSE(store->claim("before", long_ttl));
}

TEST_CASE("concurrent sqlite claims that meet a lock all fail, record nothing, and work after") {
  // Claims made at once share one transaction; when it cannot be had, each of its claims is an
  // error (answered 503 by the receiver), and none of them may have been recorded.
  constexpr int thread_count = 8;
  const TempDir dir;
  const std::string path = dir.file("locked-group.db");
  const auto store = open_store("sqlite:" + path, StoreOptions{.sqlite_busy_timeout = 200ms});
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  std::atomic<int> errors{0};
  std::atomic<int> wins{0};
  {
    std::latch start(thread_count);
    std::vector<std::thread> threads;
    for (int t = 0; t < thread_count; ++t) {
      threads.emplace_back([&, t] {
        start.arrive_and_wait();
        try {
          wins += store->claim("locked-" + std::to_string(t), long_ttl) ? 1 : 0;
        } catch (const tykhook::Error& e) {
          if (std::string_view(e.what()).find("cannot record a claim") != std::string::npos) {
            ++errors;
          }
        }
      });
    }
    for (auto& thread : threads) thread.join();
  }
  CHECK(errors == thread_count);
  CHECK(wins == 0);
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  for (int t = 0; t < thread_count; ++t) {
    CAPTURE(t);
    CHECK(store->claim("locked-" + std::to_string(t), long_ttl));
  }
}

TEST_CASE("two claims of one key made at once by many threads of a sqlite store: one wins") {
  // Many threads on few keys: a transaction often holds several claims of one key, and only
  // the first of them may win.
  constexpr int thread_count = 16;
  constexpr int key_count = 50;
  const TempDir dir;
  const auto store = open_store("sqlite:" + dir.file("same-keys.db"));
  std::vector<std::atomic<int>> wins(key_count);
  std::atomic<int> errors{0};
  std::latch start(thread_count);
  std::vector<std::thread> threads;
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int k = 0; k < key_count; ++k) {
        try {
          if (store->claim("same-" + std::to_string(k), long_ttl)) ++wins[k];
        } catch (const std::exception&) {
          ++errors;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(errors == 0);
  int not_one = 0;
  for (const auto& count : wins) not_one += count != 1 ? 1 : 0;
  CHECK(not_one == 0);
  CHECK(store->size() == std::size_t{key_count});
}

TEST_CASE("a sqlite file that cannot be used is a clear tykhook::Error") {
  const TempDir dir;
  {
    std::ofstream junk(dir.file("junk.db"), std::ios::binary);
    junk << std::string(4096, 'x');
  }
  std::filesystem::create_directory(dir.file("a-directory"));
  const struct {
    std::string_view name;
    std::string path;
    std::vector<std::string_view> words;
  } cases[] = {
      {"not a database", dir.file("junk.db"), {"not a database", "move it away"}},
      {"a directory", dir.file("a-directory"), {"cannot open", "directory exists"}},
      {"no such directory", dir.file("missing/x.db"), {"cannot open", "directory exists"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const std::string uri = "sqlite:" + c.path;
    const auto message = error_of([&] { (void)open_store(uri); });
    CHECK(message.starts_with("store \"" + uri + "\": "));
    for (const auto word : c.words) {
      CAPTURE(word);
      CHECK(message.find(word) != std::string::npos);
    }
  }
}

TEST_CASE("a read-only sqlite file is refused when the store opens, not at the first claim") {
  const TempDir dir;
  const std::string path = dir.file("read-only.db");
  (void)open_store("sqlite:" + path);
  REQUIRE(chmod(path.c_str(), 0444) == 0);
  const auto refused = [&path] {
    const auto message = error_of([&] { (void)open_store("sqlite:" + path); });
    return message.find("read-only") != std::string::npos &&
           message.find("writable") != std::string::npos;
  };
  if (geteuid() != 0) {
    CHECK(refused());
    return;
  }
  // Root may write to any file, so the check runs in a child that gives up root for the
  // unprivileged user "nobody", to whom the directory is handed (the file stays root's, 0444).
  constexpr uid_t nobody = 65534;
  REQUIRE(chown(std::filesystem::path(path).parent_path().c_str(), nobody, nobody) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    if (setgid(nobody) != 0 || setuid(nobody) != 0) _exit(3);
    if (std::ofstream(path, std::ios::app)) _exit(4);  // still able to write: nothing tested
    _exit(refused() ? 0 : 1);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);  // 1: not refused; 3: could not drop root; 4: file writable
}

// ---- Redis -----------------------------------------------------------------------------------

TEST_CASE("a redis store reconnects after the server restarts") {
  if (!redis_server_on_path()) {
    redis_unavailable("redis-server is not on PATH", "install redis-server");
    return;
  }
  RedisServer server;
  const std::string uri = server.uri() + "?prefix=restart:";
  const auto store = open_store(uri, StoreOptions{.redis_timeout = 500ms});
  // Several threads at once leave several pooled connections, all of which the restart breaks.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] { (void)store->claim("before-" + std::to_string(t), long_ttl); });
  }
  for (auto& thread : threads) thread.join();
  CHECK(store->claim("a", long_ttl));
  CHECK_FALSE(store->claim("a", long_ttl));

  server.stop();
  const auto message = error_of([&] { (void)store->claim("b", long_ttl); });
  CHECK(message == "store \"" + uri +
                       "\": cannot connect: Connection refused; start redis-server or fix the "
                       "address");

  server.start();
  for (int i = 0; i < 10; ++i) {
    CAPTURE(i);
    CHECK(store->claim("after-" + std::to_string(i), long_ttl));
  }
  CHECK_FALSE(store->claim("after-0", long_ttl));
}

TEST_CASE("a redis store authenticates with TYKHOOK_REDIS_PASSWORD and never shows it") {
  if (!redis_server_on_path()) {
    redis_unavailable("redis-server is not on PATH", "install redis-server");
    return;
  }
  const std::string password = "pw-" + unique_name();
  RedisServer server({"--requirepass", password});
  const std::string uri = server.uri() + "/1?prefix=auth:";
  {
    const ScopedEnv env("TYKHOOK_REDIS_PASSWORD", password.c_str());
    const auto store = open_store(uri);
    CHECK(store->claim("a", long_ttl));
    CHECK_FALSE(store->claim("a", long_ttl));
  }
  const struct {
    std::string_view name;
    const char* password;
    std::vector<std::string_view> words;
  } cases[] = {
      {"no password", nullptr, {"requires a password", "set TYKHOOK_REDIS_PASSWORD"}},
      {"a wrong password", "wrong-pw", {"cannot authenticate", "check TYKHOOK_REDIS_PASSWORD"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const ScopedEnv env("TYKHOOK_REDIS_PASSWORD", c.password);
    const auto message = error_of([&] { (void)open_store(uri); });
    CHECK(message.starts_with("store \"" + uri + "\": "));
    for (const auto word : c.words) {
      CAPTURE(word);
      CHECK(message.find(word) != std::string::npos);
    }
    CHECK(message.find(password) == std::string::npos);
    CHECK(message.find("wrong-pw") == std::string::npos);
  }
}

TEST_CASE("a redis store keeps its keys under its own prefix") {
  const auto base = redis_test_uri();
  if (!base) return;
  const auto store = open_store(*base);
  // The base URI ends with its prefix parameter: appending makes a different prefix.
  const auto other_prefix = open_store(*base + "other:");
  CHECK(store->claim("a", long_ttl));
  CHECK_FALSE(store->claim("a", long_ttl));
  CHECK(other_prefix->claim("a", long_ttl));
}

// ---- URIs ------------------------------------------------------------------------------------

TEST_CASE("a store URI that is wrong is a tykhook::Error that names it and says what to do") {
  const struct {
    std::string_view uri;
    std::vector<std::string_view> words;
  } cases[] = {
      {"sqlite:", {"store \"sqlite:\": missing path; use sqlite:PATH, e.g. sqlite:tykhook.db"}},
      {"foo:",
       {"store \"foo:\": unknown store; use memory:, sqlite:PATH or redis://HOST:PORT[/DB]"}},
      {"redis://127.0.0.1:1",
       {"store \"redis://127.0.0.1:1\": cannot connect: Connection refused; start redis-server "
        "or fix the address"}},
      {"", {"store \"\": no store type", "sqlite:tykhook.db"}},
      {"tykhook.db", {"no store type", "e.g. sqlite:tykhook.db"}},
      {"memory", {"store \"memory\": no store type", "e.g. memory:"}},
      {"Memory", {"no store type", "e.g. memory:"}},
      {"sqlite", {"no store type", "e.g. sqlite:tykhook.db"}},
      {"redis", {"no store type", "e.g. redis://127.0.0.1:6379"}},
      {"memory:tykhook.db", {"memory: takes no path", "use memory:"}},
      {"Memory:x", {"memory: takes no path"}},
      {"redis:", {"expected \"//\"", "redis://HOST:PORT"}},
      {"redis:127.0.0.1:6379", {"expected \"//\""}},
      {"redis://", {"missing host", "redis://127.0.0.1:6379"}},
      {"redis://:6379", {"missing host"}},
      {"redis://127.0.0.1:", {"missing port", ":6379"}},
      {"redis://127.0.0.1:http", {"port \"http\" is not a number from 1 to 65535"}},
      {"redis://127.0.0.1:0", {"port \"0\" is not a number from 1 to 65535"}},
      {"redis://127.0.0.1:65536", {"port \"65536\""}},
      {"redis://127.0.0.1:6379/one", {"database \"one\" is not a number", "/0"}},
      {"redis://127.0.0.1:6379/-1", {"database \"-1\""}},
      {"redis://127.0.0.1:6379/0/1", {"database \"0/1\""}},
      // Values of unknown parameters are hidden (one might be a password): see the next test.
      {"redis://127.0.0.1:6379?db", {"unknown parameter \"db\"", "?prefix="}},
      {"redis://127.0.0.1:6379?prefix", {"unknown parameter \"prefix\""}},
      {"redis://127.0.0.1:6379?prefix=a&prefix=b", {"\"prefix\" is given twice"}},
      {"redis://[::1", {"no closing \"]\""}},
      {"redis://[::1]6379", {"expected \":PORT\" after \"]\""}},
      {"rediss://127.0.0.1:6379", {"TLS is not supported"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.uri);
    const auto message = error_of([&] { (void)open_store(c.uri); });
    CHECK(message.starts_with("store \"" + std::string(c.uri) + "\": "));
    for (const auto word : c.words) {
      CAPTURE(word);
      CHECK(message.find(word) != std::string::npos);
    }
  }
}

TEST_CASE("no store message shows a password, whether in the URI or the environment") {
  constexpr std::string_view secret = "s3cr3t-pw";
  const ScopedEnv env("TYKHOOK_REDIS_PASSWORD", "env-s3cr3t-pw");
  const struct {
    std::string_view uri;
    std::string_view shown;
    std::string_view words;
  } cases[] = {
      {"redis://:s3cr3t-pw@127.0.0.1:6379", "redis://***@127.0.0.1:6379",
       "credentials in the URI are not accepted; remove them and set TYKHOOK_REDIS_PASSWORD"},
      {"redis://user:s3cr3t-pw@127.0.0.1:6379/0", "redis://***@127.0.0.1:6379/0",
       "set TYKHOOK_REDIS_PASSWORD"},
      {"redis://s3cr3t-pw@127.0.0.1", "redis://***@127.0.0.1", "set TYKHOOK_REDIS_PASSWORD"},
      {"redis://127.0.0.1:6379?password=s3cr3t-pw", "redis://127.0.0.1:6379?password=***",
       "unknown parameter \"password\""},
      {"redis://127.0.0.1:6379?prefix=p&auth=s3cr3t-pw", "redis://127.0.0.1:6379?prefix=p&auth=***",
       "unknown parameter \"auth\""},
      {"redis://127.0.0.1:6379/2?db=1", "redis://127.0.0.1:6379/2?db=***",
       "unknown parameter \"db\""},
      {"redis://127.0.0.1:1", "redis://127.0.0.1:1", "cannot connect"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.uri);
    const auto message = error_of([&] { (void)open_store(c.uri); });
    CHECK(message.starts_with("store \"" + std::string(c.shown) + "\": "));
    CHECK(message.find(c.words) != std::string::npos);
    CHECK(message.find(secret) == std::string::npos);
  }
}

namespace {

// A server on a loopback port that is not Redis: it sends back every command it receives, as
// a connection to itself does (a client that connects to a closed local port in the
// ephemeral range can get that same port and be connected to itself). With `pong`, it answers
// PING with +PONG first, so that a store gets past connecting.
class EchoServer {
 public:
  explicit EchoServer(bool pong) : pong_(pong) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(listen_fd_, 16) == 0);
    socklen_t size = sizeof address;
    REQUIRE(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &size) == 0);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~EchoServer() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    ::close(listen_fd_);
  }
  std::string uri() const { return "redis://127.0.0.1:" + std::to_string(port_); }

 private:
  void serve() {
    for (int fd; (fd = ::accept(listen_fd_, nullptr, nullptr)) >= 0;) {
      std::thread([fd, pong = pong_] {
        char buffer[4096];
        for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) {
          const std::string_view got(buffer, static_cast<std::size_t>(n));
          const std::string_view answer =
              pong && got.find("PING") != std::string_view::npos ? "+PONG\r\n" : got;
          (void)::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
        }
        ::close(fd);
      }).detach();
    }
  }

  bool pong_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace

TEST_CASE(
    "a redis store refuses a server that sends its commands back, and never calls a "
    "delivery a duplicate for it") {
  {
    EchoServer echo(false);
    const auto message = error_of([&] { (void)open_store(echo.uri()); });
    CHECK(message == "store \"" + echo.uri() +
                         "\": cannot connect: the server did not answer PING with PONG; check "
                         "that the address is a Redis server");
  }
  EchoServer echo(true);
  const auto store = open_store(echo.uri());
  const auto message = error_of([&] { (void)store->claim("a", long_ttl); });
  CHECK(message == "store \"" + echo.uri() +
                       "\": cannot claim a key: the server answered SET with something else "
                       "than OK or nil; check that the address is a Redis server");
}
