// `tykhook sign` end to end: the built binary, its exit status, stdout and stderr.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "cli_support.h"
#include "support/terminal.h"

using namespace tykhook::test;

namespace {

std::string bytes(std::size_t count, unsigned char value) {
  return std::string(count, static_cast<char>(value));
}

}  // namespace

TEST_CASE("sign reproduces the RFC 4231 HMAC-SHA256 test vectors") {
  std::string counting_key;
  for (unsigned char c = 0x01; c <= 0x19; ++c) counting_key.push_back(static_cast<char>(c));
  const struct {
    std::string_view name;
    std::string key;
    std::string data;
    std::string_view hmac;
  } cases[] = {
      {"test case 1", bytes(20, 0x0b), "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"test case 2", "Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {"test case 3", bytes(20, 0xaa), bytes(50, 0xdd),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {"test case 4", counting_key, bytes(50, 0xcd),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {"test case 5 (truncated to 128 bits)", bytes(20, 0x0c), "Test With Truncation",
       "a3b6167473100ee06e0c796c2955552b"},
      {"test case 6", bytes(131, 0xaa), "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {"test case 7", bytes(131, 0xaa),
       "This is a test using a larger than block-size key and a larger than block-size data. "
       "The key needs to be hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
  TempDir dir;
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto key_file = dir.write("key", c.key);
    const Run run = run_tykhook({"sign", "--hex", "--secret-file", key_file}, c.data);
    CAPTURE(run.err);
    CHECK(run.status == 0);
    CHECK(run.out.substr(0, c.hmac.size()) == c.hmac);
    CHECK(run.out.size() == 65);
  }
}

TEST_CASE("sign prints the header line, reading a file or standard input") {
  TempDir dir;
  const auto body = dir.write("body.json", "{\"Event\":\"X\"}");
  const Run from_file = run_tykhook({"sign", "--secret", "sign-test-secret-16b", body});
  const Run from_stdin =
      run_tykhook({"sign", "--secret", "sign-test-secret-16b"}, "{\"Event\":\"X\"}");
  CHECK(from_file.status == 0);
  CHECK(from_file.out.rfind("X-Signature-SHA256: ", 0) == 0);
  CHECK(from_file.out.size() == 20 + 64 + 1);
  CHECK(from_file.out == from_stdin.out);
}

TEST_CASE("sign says so when it reads a terminal, and when the body is empty (#20)") {
  // Standard input a terminal: the program says it waits for the body before it reads.
  int terminal = -1;
  int device = -1;
  REQUIRE(::openpty(&terminal, &device, nullptr, nullptr, nullptr) == 0);
  int err_pipe[2];
  REQUIRE(::pipe(err_pipe) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::dup2(device, STDIN_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, STDOUT_FILENO);
    ::execl(TYKHOOK_EXE, TYKHOOK_EXE, "sign", "--secret", "s", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(device);
  ::close(err_pipe[1]);
  std::string err;
  const auto read_err_until = [&](std::string_view wanted, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (err.find(wanted) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd ready{err_pipe[0], POLLIN, 0};
      if (::poll(&ready, 1, 100) <= 0) continue;
      char buffer[512];
      const ssize_t n = ::read(err_pipe[0], buffer, sizeof buffer);
      if (n <= 0) break;
      err.append(buffer, static_cast<std::size_t>(n));
    }
    return err.find(wanted) != std::string::npos;
  };
  CHECK(read_err_until("reading the body from standard input (the terminal); end it with Ctrl-D",
                       std::chrono::seconds(10)));
  const char end_of_input = '\x04';  // Ctrl-D at the start of a line: the terminal's end of file
  CHECK(::write(terminal, &end_of_input, 1) == 1);
  CHECK(read_err_until("the body is empty (standard input); signing the empty body",
                       std::chrono::seconds(10)));
  int status = 0;
  CHECK(::waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  ::close(terminal);
  ::close(err_pipe[0]);

  // A pipe or a file is not announced; an empty one is.
  const Run piped = run_tykhook({"sign", "--secret", "sign-test-secret-16b"}, "{}");
  CHECK(piped.err.empty());
  const Run empty = run_tykhook({"sign", "--secret", "sign-test-secret-16b"}, "");
  CHECK(empty.status == 0);
  CHECK(empty.err == "tykhook sign: the body is empty (standard input); signing the empty body\n");
  TempDir dir;
  const auto file = dir.write("empty.json", "");
  CHECK(run_tykhook({"sign", "--secret", "s", file}).err.find("the body is empty (" + file + ")") !=
        std::string::npos);
}

TEST_CASE("sign --request writes a capture that verify accepts, byte for byte") {
  const std::string body = source_file("samples/bodies/AccessRequestApproved.json");
  const Run capture = run_tykhook(
      {"sign", "--secret", "s3", "--request", "http://127.0.0.1:8080/webhooks?x=1"}, body);
  CHECK(capture.status == 0);
  CHECK(capture.out.rfind("POST /webhooks?x=1 HTTP/1.1\r\n", 0) == 0);
  CHECK(capture.out.find("\r\nHost: 127.0.0.1:8080\r\n") != std::string::npos);
  CHECK(capture.out.find("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n") !=
        std::string::npos);
  CHECK(capture.out.find("\r\nContent-Type: application/json\r\n") != std::string::npos);
  CHECK(capture.out.substr(capture.out.size() - body.size()) == body);
  const Run verified = run_tykhook({"verify", "--secret", "s3"}, capture.out);
  CHECK(verified.status == 0);
  CHECK(verified.out == "-: ok (AccessRequestApproved)\n");
}

TEST_CASE("sign --request ends with a newline at a terminal only, when the body lacks one (#20)") {
  TempDir dir;
  const std::string body = source_file("samples/bodies/AccessRequestApproved.json");
  REQUIRE(body.back() == '}');
  const struct {
    std::string_view name;
    std::string body;
    std::string_view added_at_terminal;
  } cases[] = {
      {"a body without a final newline", body, "\n"},
      {"a body with a final newline", body + "\n", ""},
      {"a body with a final CRLF", body + "\r\n", ""},
      {"a body ending in a CR alone", body + "\r", "\n"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const std::string file = dir.write("body.json", c.body);
    const std::vector<std::string> args = {
        "sign", "--secret", "s3", "--request", "http://127.0.0.1:8080/webhooks", file};
    // In a pipe: the body ends the capture byte for byte, and the capture verifies.
    const Run piped = run_tykhook(args);
    CHECK(piped.status == 0);
    REQUIRE(piped.out.size() > c.body.size());
    CHECK(piped.out.substr(piped.out.size() - c.body.size()) == c.body);
    CHECK(piped.out.find("\r\nContent-Length: " + std::to_string(c.body.size()) + "\r\n") !=
          std::string::npos);
    const Run verified = run_tykhook({"verify", "--secret", "s3", "--no-schema"}, piped.out);
    CHECK(verified.out == "-: ok (AccessRequestApproved)\n");
    // At a terminal: the same bytes, and a newline for the prompt when they lack one.
    const Run terminal = run_tykhook_at_terminal(args);
    CAPTURE(terminal.err);
    CHECK(terminal.status == 0);
    CHECK(terminal.out == piped.out + std::string(c.added_at_terminal));
  }
}

TEST_CASE("the signature covers the exact bytes, NULs and trailing newlines included") {
  const Run plain = run_tykhook({"sign", "--hex", "--secret", "k"}, std::string("a\0b", 3));
  const Run newline = run_tykhook({"sign", "--hex", "--secret", "k"}, std::string("a\0b\n", 4));
  CHECK(plain.status == 0);
  CHECK(plain.out != newline.out);
  CHECK(plain.out.size() == 65);
}

TEST_CASE("sign refuses bad secrets and URLs with exit status 2, printing no secret") {
  const struct {
    std::string_view name;
    std::vector<std::string> args;
    std::string_view message;
  } cases[] = {
      {"no secret", {"sign"}, "PORTAL_WEBHOOKS_SECRET"},
      {"an empty secret", {"sign", "--secret", ""}, "empty secret"},
      {"a URL without a scheme",
       {"sign", "--secret", "topsecret", "--request", "127.0.0.1:8080"},
       "missing scheme"},
      {"a URL with user information",
       {"sign", "--secret", "topsecret", "--request", "http://alice:s3cr3t-value@h/"},
       "\"http://USER@h/\": user information is not allowed"},
      {"a URL with a bad port",
       {"sign", "--secret", "topsecret", "--request", "http://h:99999/"},
       "port"},
      {"--hex with --request",
       {"sign", "--secret", "topsecret", "--hex", "--request", "http://h/"},
       "excludes"},
      {"a missing body file",
       {"sign", "--secret", "topsecret", "/nonexistent/body.json"},
       "cannot read"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const Run run = run_tykhook(c.args, "{}", {{"PORTAL_WEBHOOKS_SECRET", ""}});
    CAPTURE(run.err);
    CHECK(run.status == 2);
    CHECK(run.out.empty());
    CHECK(run.err.find(c.message) != std::string::npos);
    CHECK(run.err.find("topsecret") == std::string::npos);
    CHECK(run.err.find("s3cr3t-value") == std::string::npos);
  }
}
