// `tykhook listen --ui` (issue 19): the inspector's address with its token on the first lines,
// a token from a file, and the mistakes it refuses without showing the token. The endpoints
// themselves are tested on the library (receiver_inspector_test) and in a browser
// (tests/ui/inspector_browser_test.py).
#include <doctest/doctest.h>
#include <httplib.h>
#include <signal.h>

#include <string>
#include <vector>

#include "cli_support.h"

using namespace tykhook::test;
using namespace std::chrono_literals;

namespace {

const std::map<std::string, std::string> secret_env = {
    {"PORTAL_WEBHOOKS_SECRET", "cli-listen-ui-secret-3b6e0d"}};

// The line of `lines` that starts with `prefix`, or "".
std::string line_with(const std::vector<std::string>& lines, const std::string& prefix) {
  for (const auto& line : lines) {
    if (line.starts_with(prefix)) return line;
  }
  return "";
}

int status_of(int port, const std::string& path, const httplib::Headers& headers) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(5s);
  const auto result = client.Get(path, headers);
  return result ? result->status : -1;
}

}  // namespace

TEST_CASE("--ui: the first lines give the inspector's address with a new token, which opens it") {
  Background listen({"listen", "--port", "0", "--store", "memory:", "--ui"}, secret_env);
  const auto lines = read_startup_lines(listen);
  REQUIRE(!lines.empty());
  const int port = listening_port(lines.front());
  REQUIRE(port > 0);
  const std::string prefix =
      "tykhook listen: inspector: http://127.0.0.1:" + std::to_string(port) + "/ui/?token=";
  const std::string line = line_with(lines, prefix);
  CAPTURE(lines);
  REQUIRE(!line.empty());
  const std::string token =
      line.substr(prefix.size(), line.find(' ', prefix.size()) - prefix.size());
  CHECK(token.size() == 43);  // 32 random bytes
  CHECK(status_of(port, "/ui/api/deliveries", {{"Authorization", "Bearer " + token}}) == 200);
  CHECK(status_of(port, "/ui/api/deliveries", {}) == 401);
  CHECK(status_of(port, "/ui/?token=" + token, {}) == 303);
  listen.signal(SIGTERM);
  const Run run = listen.wait();
  CHECK(run.status == 0);
  // The request log shows the path, never the query that holds the token.
  CHECK(run.err.find("GET /ui/ ") != std::string::npos);
  CHECK(run.err.find(token) == run.err.find(prefix) + prefix.size());  // on its line alone

  // Another start, another token.
  Background again({"listen", "--port", "0", "--store", "memory:", "--ui"}, secret_env);
  const auto second = read_startup_lines(again);
  CHECK(line_with(second, "tykhook listen: inspector: ").find(token) == std::string::npos);
  again.signal(SIGTERM);
  CHECK(again.wait().status == 0);
}

TEST_CASE("--ui-token-file: the token from a file, not printed; bad files refused, unshown") {
  TempDir dir;
  const std::string token = "a-token-from-a-file-0123456789";
  Background listen({"listen", "--port", "0", "--store", "memory:", "--ui", "--ui-token-file",
                     dir.write("token", token + "\n"), "--log-format", "json"},
                    secret_env);
  const auto lines = read_startup_lines(listen);
  REQUIRE(!lines.empty());
  const int port = listening_port(lines.front());
  REQUIRE(port > 0);
  bool described = false;
  for (const auto& each : lines) {
    if (each.find("\"inspector\":\"http://127.0.0.1:" + std::to_string(port) + "/ui/\"") !=
        std::string::npos) {
      described = each.find("\"token_file\":") != std::string::npos;
    }
  }
  CAPTURE(lines);
  CHECK(described);
  CHECK(status_of(port, "/ui/api/deliveries", {{"Authorization", "Bearer " + token}}) == 200);
  listen.signal(SIGTERM);
  const Run run = listen.wait();
  CHECK(run.status == 0);
  CHECK(run.err.find(token) == std::string::npos);

  const std::string short_token = "short-0123";
  const std::string unsafe_token = "a token with spaces, long enough";
  for (const auto& [content, why] : std::vector<std::pair<std::string, std::string>>{
           {short_token, "16 to 4096"}, {unsafe_token, "only letters"}}) {
    const std::string path = dir.write("bad-token", content);
    const Run refused = run_tykhook(
        {"listen", "--port", "0", "--store", "memory:", "--ui", "--ui-token-file", path}, {},
        secret_env);
    CHECK(refused.status == 2);
    CHECK(refused.err.starts_with("tykhook listen: --ui-token-file " + path + ": "));
    CHECK(refused.err.find(why) != std::string::npos);
    CHECK(refused.err.find(content) == std::string::npos);
  }
  const Run missing = run_tykhook({"listen", "--port", "0", "--store", "memory:", "--ui",
                                   "--ui-token-file", (dir.path() / "none").string()},
                                  {}, secret_env);
  CHECK(missing.status == 2);
  CHECK(missing.err.find("cannot be read") != std::string::npos);
  const Run without_ui = run_tykhook(
      {"listen", "--port", "0", "--ui-token-file", dir.write("token", token)}, {}, secret_env);
  CHECK(without_ui.status == 2);
  CHECK(without_ui.err.find("--ui") != std::string::npos);
  CHECK(without_ui.err.find(token) == std::string::npos);
}

TEST_CASE("--ui on an address other machines reach: a warning says what that exposes") {
  Background listen({"listen", "--host", "0.0.0.0", "--port", "0", "--store", "memory:", "--ui"},
                    secret_env);
  const auto lines = read_startup_lines(listen);
  CAPTURE(lines);
  const std::string warning = line_with(lines, "tykhook listen: warning: --ui on 0.0.0.0: ");
  CHECK(warning.find("personal data") != std::string::npos);
  listen.signal(SIGTERM);
  CHECK(listen.wait().status == 0);
}
