#include <doctest/doctest.h>
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/files.h"
#include "support/wait.h"
#include "tykhook/targets.h"
#include "tykhook/verifier.h"

using namespace tykhook;
using namespace tykhook::test;

namespace {

const std::string body = source_file("samples/bodies/UserRegistered.json");

QueueEntry entry_of(std::string bytes, unsigned attempt = 1, std::string event = "UserRegistered") {
  QueueEntry entry;
  entry.key = idempotency_key(bytes);
  entry.event = std::move(event);
  entry.request.body = std::move(bytes);
  entry.attempts = attempt;
  return entry;
}

AttemptResult run(const std::string& command, const QueueEntry& entry,
                  std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  return exec_target({.command = command, .timeout = timeout})->attempt(entry);
}

// The shell word of `path`, single-quoted.
std::string shell_word(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

// Every byte value, repeated up to `size` bytes: NULs and bytes that are not UTF-8 included.
std::string all_bytes(std::size_t size) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>(i * 7 % 256);
  return bytes;
}

// Whether process `pid` is gone: no such process, or a zombie that nothing reaps yet (the
// init of a container need not reap the orphans it adopts).
bool gone(const std::string& pid) {
  const std::string stat = read_file("/proc/" + pid + "/stat");
  if (stat.empty()) return true;
  const auto close = stat.rfind(')');
  return close != std::string::npos && stat.size() > close + 2 && stat[close + 2] == 'Z';
}

}  // namespace

TEST_CASE("the command's exit status decides: 0 done, 75 retry, any other dead") {
  const struct {
    std::string_view command;
    std::string_view outcome;
    std::string_view error;
  } cases[] = {
      {"true", "done", ""},
      {"sh -c 'exit 75'", "retry", "command sh exited 75 (temporary failure)"},
      {"sh -c 'exit 1'", "dead", "command sh exited 1"},
      {"sh -c 'exit 2'", "dead", "command sh exited 2"},
      {"sh -c 'kill -TERM $$'", "retry", "command sh killed by signal 15 (SIGTERM)"},
      {"sh -c 'kill -KILL $$'", "retry", "command sh killed by signal 9 (SIGKILL)"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.command);
    const auto result = run(std::string(c.command), entry_of(body));
    CHECK(to_string(result.outcome) == c.outcome);
    CHECK(result.error == c.error);
    CHECK_FALSE(result.retry_after);
  }
}

TEST_CASE("a command that cannot start is tried again, with the reason") {
  const auto result = run("./no-such-program-of-tykhook", entry_of(body));
  CHECK(to_string(result.outcome) == "retry");
  CHECK(result.error ==
        "cannot start command ./no-such-program-of-tykhook: No such file or directory");
}

TEST_CASE("a command past its timeout is killed with what it started, and tried again") {
  const TempDir dir;
  const auto pid_file = dir.file("sleep.pid");
  const auto started = std::chrono::steady_clock::now();
  const auto result = run("sh -c 'sleep 1000 & echo $! > \"$0\"; wait' " + shell_word(pid_file),
                          entry_of(body), std::chrono::milliseconds(500));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
  CHECK(to_string(result.outcome) == "retry");
  CHECK(result.error == "command sh timed out after 500ms");
  const std::string pid = read_file(pid_file).substr(0, read_file(pid_file).find('\n'));
  REQUIRE_FALSE(pid.empty());
  wait_until("the command's own child, sleep, is killed", [&] { return gone(pid); });
}

TEST_CASE(
    "a command that neither reads nor exits is killed at the timeout, while the body is "
    "still being written") {
  const auto result =
      run("sleep 1000", entry_of(all_bytes(1024 * 1024)), std::chrono::milliseconds(300));
  CHECK(to_string(result.outcome) == "retry");
  CHECK(result.error == "command sleep timed out after 300ms");
}

TEST_CASE("a body of 1 MiB reaches the command's standard input byte for byte") {
  const TempDir dir;
  const auto out = dir.file("stdin");
  const std::string bytes = all_bytes(1024 * 1024);
  const auto result = run("sh -c 'cat > \"$0\"' " + shell_word(out), entry_of(bytes));
  CHECK(to_string(result.outcome) == "done");
  CHECK(read_file(out) == bytes);
}

TEST_CASE("a command that exits without reading its input neither kills us nor hangs") {
  // Without SIGPIPE blocked for the write, this test program dies of it.
  const std::string bytes = all_bytes(1024 * 1024);
  CHECK(to_string(run("true", entry_of(bytes)).outcome) == "done");
  const auto failed = run("sh -c 'exit 3'", entry_of(bytes));
  CHECK(to_string(failed.outcome) == "dead");
  CHECK(failed.error == "command sh exited 3");
}

TEST_CASE("the event name and body are handed over as bytes, never interpreted") {
  const TempDir dir;
  const std::string hostile_event = "$(touch " + dir.file("from-event") + ")";
  const std::string hostile_body = "`touch " + dir.file("from-body") + "`; $(touch " +
                                   dir.file("from-body-2") + ") && touch " +
                                   dir.file("from-body-3") + "\n";
  const auto result = run("sh -c 'cat > \"$0\"; printf %s \"$TYKHOOK_EVENT\" > \"$1\"' " +
                              shell_word(dir.file("stdin")) + " " + shell_word(dir.file("event")),
                          entry_of(hostile_body, 1, hostile_event));
  CHECK(to_string(result.outcome) == "done");
  CHECK(read_file(dir.file("stdin")) == hostile_body);
  CHECK(read_file(dir.file("event")) == hostile_event);
  for (const char* name : {"from-event", "from-body", "from-body-2", "from-body-3"}) {
    CAPTURE(name);
    CHECK_FALSE(std::filesystem::exists(dir.file(name)));
  }
}

TEST_CASE("the environment is ours without the hidden variables, plus the delivery's") {
  ::setenv("TYKHOOK_TEST_KEPT", "kept value", 1);
  ::setenv("TYKHOOK_TEST_SECRET", "hidden value", 1);
  ::setenv("TYKHOOK_EVENT", "inherited, and replaced", 1);
  const TempDir dir;
  const auto out = dir.file("env");
  auto target = exec_target({.command = "sh -c 'env > \"$0\"' " + shell_word(out),
                             .hidden_environment = {"TYKHOOK_TEST_SECRET"}});
  ::unsetenv("TYKHOOK_EVENT");
  const auto read_environment = [&] {
    std::map<std::string, std::vector<std::string>> values;
    std::istringstream lines(read_file(out));
    for (std::string line; std::getline(lines, line);) {
      const auto equals = line.find('=');
      values[line.substr(0, equals)].push_back(line.substr(equals + 1));
    }
    return values;
  };
  using Values = std::vector<std::string>;

  const auto entry = entry_of(body, 3);
  CHECK(to_string(target->attempt(entry).outcome) == "done");
  auto values = read_environment();
  CHECK(values["TYKHOOK_EVENT"] == Values{"UserRegistered"});
  CHECK(values["TYKHOOK_DELIVERY"] == Values{entry.key});
  CHECK(values["TYKHOOK_ATTEMPT"] == Values{"3"});
  CHECK(values["TYKHOOK_TIMESTAMP"] == Values{"2024-04-22T16:38:54.082037+02:00"});
  CHECK(values["TYKHOOK_TEST_KEPT"] == Values{"kept value"});
  CHECK(values.count("TYKHOOK_TEST_SECRET") == 0);
  CHECK(values.count("PATH") == 1);

  // A body that is not an envelope has no Timestamp to give.
  CHECK(to_string(target->attempt(entry_of("not json", 1)).outcome) == "done");
  values = read_environment();
  CHECK(values["TYKHOOK_TIMESTAMP"] == Values{""});
  ::unsetenv("TYKHOOK_TEST_KEPT");
  ::unsetenv("TYKHOOK_TEST_SECRET");
}

TEST_CASE("many attempts at once from several threads each see their own input end") {
  // A pipe's write end that leaked into another thread's child would keep this `cat` waiting
  // for the end of its input until the timeout.
  auto target =
      exec_target({.command = "sh -c 'cat > /dev/null'", .timeout = std::chrono::seconds(10)});
  const std::string bytes = all_bytes(256 * 1024);
  std::atomic<int> done{0};
  std::atomic<int> other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        const auto result = target->attempt(entry_of(bytes));
        (result.outcome == AttemptOutcome::done ? done : other)++;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(done == 40);
  CHECK(other == 0);
}

TEST_CASE("an exec target names its program, and refuses a command it cannot split") {
  CHECK(exec_target({.command = "'./my app' --flag"})->describe() == "command ./my app");
  CHECK_THROWS_WITH_AS((void)exec_target({.command = "  "}), doctest::Contains("no command to run"),
                       Error);
  CHECK_THROWS_WITH_AS((void)exec_target({.command = "sh -c 'echo"}),
                       doctest::Contains("is not closed"), Error);
}
