// `tykhook listen` end to end: the built binary serving on an ephemeral loopback port.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "capture_writer.h"
#include "cli_support.h"
#include "support/loopback.h"
#include "tykhook/capture.h"
#include "tykhook/envelope.h"
#include "tykhook/signature.h"
#include "tykhook/timestamp.h"
#include "tykhook/verifier.h"

using namespace tykhook::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string secret = "cli-listen-secret-7f3a9c";

// A `tykhook listen` on a free port, with the secret in a file, and its port.
struct Listener {
  Listener(const TempDir& dir, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"listen",         "--port",  "0",      "--secret-file",
                                     secret_file(dir), "--store", "memory:"};
    args.insert(args.end(), extra.begin(), extra.end());
    process = std::make_unique<Background>(args);
    startup = read_startup_lines(*process);
    first_line = startup.empty() ? std::string() : startup.front();
    port = listening_port(first_line);
  }
  static std::string secret_file(const TempDir& dir) { return dir.write("secret", secret + "\n"); }
  std::string url(const std::string& path = "/webhooks/tyk") const {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }
  // Stops it with `signal_number` and returns what it did.
  Run stop(int signal_number = SIGTERM) {
    process->signal(signal_number);
    return process->wait();
  }

  // The lines that listen wrote before any request: where it listens, then what it keeps.
  std::vector<std::string> startup;
  std::unique_ptr<Background> process;
  std::string first_line;
  int port = -1;
};

Run send(const Listener& listener, const TempDir& dir, std::vector<std::string> what) {
  std::vector<std::string> args = {"send", "--to", listener.url(), "--secret-file",
                                   Listener::secret_file(dir)};
  args.insert(args.end(), what.begin(), what.end());
  return run_tykhook(args);
}

// Sends one request with "Connection: close" and returns the whole response.
std::string request(int port, const std::string& method, const std::string& path) {
  return tykhook::test::exchange(
      port, method + " " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The lines of `run`'s standard error after `listener`'s start-up lines (which they must begin
// with): one per request, and what stopping said.
std::vector<std::string> request_lines(const Listener& listener, const Run& run) {
  auto lines = lines_of(run.err);
  const auto startup = listener.startup.size();
  REQUIRE(lines.size() >= startup);
  CHECK(std::equal(listener.startup.begin(), listener.startup.end(), lines.begin()));
  lines.erase(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(startup));
  return lines;
}

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t found = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++found;
  return found;
}

}  // namespace

TEST_CASE("listen prints its address first, then one line per request, and exits 0 on SIGTERM") {
  TempDir dir;
  Listener listener(dir);
  REQUIRE(listener.port > 0);
  CHECK(listener.first_line ==
        "tykhook listening on http://127.0.0.1:" + std::to_string(listener.port));
  const Run sent = send(listener, dir, {"--event", "UserRegistered"});
  CHECK(sent.status == 0);
  CHECK(request(listener.port, "HEAD", "/webhooks/tyk").starts_with("HTTP/1.1 200 "));
  CHECK(request(listener.port, "GET", "/healthz").starts_with("HTTP/1.1 200 "));
  CHECK(request(listener.port, "GET", "/nothing-here").starts_with("HTTP/1.1 404 "));

  const Run run = listener.stop();
  CHECK(run.status == 0);
  CHECK(run.out.empty());
  const auto lines = request_lines(listener, run);
  REQUIRE(lines.size() == 4);
  const std::string time = R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)";
  const std::string client = R"(127\.0\.0\.1:\d+)";
  const std::string_view want[] = {
      R"(POST /webhooks/tyk UserRegistered ok 200 \d+\.\d\dms secret #0 [0-9a-f]{12})",
      R"(HEAD /webhooks/tyk - - 200 \d+\.\d\dms)",
      R"(GET /healthz - - 200 \d+\.\d\dms)",
      R"(GET /nothing-here - - 404 \d+\.\d\dms)",
  };
  // A request's line is written once its answer is sent, so the next request (sent when the
  // answer arrived) may be logged first: each line once, in any order.
  for (const std::string_view line : want) {
    const std::regex pattern(time + " " + client + " " + std::string(line));
    CAPTURE(line);
    CHECK(std::count_if(lines.begin(), lines.end(), [&](const std::string& logged) {
            return std::regex_match(logged, pattern);
          }) == 1);
  }
}

TEST_CASE("send --all to listen: every event is ok, and every capture re-verifies as ok") {
  TempDir dir;
  const auto captures = dir.path() / "captures";
  Listener listener(dir, {"--capture-dir", captures.string()});
  REQUIRE(listener.port > 0);
  const Run sent = send(listener, dir, {"--all"});
  CAPTURE(sent.err);
  CHECK(sent.status == 0);
  CHECK(count(sent.out, "X-Tykhook-Verdict: ok\n") == 13);

  const auto files = files_in(captures);
  CHECK(files.size() == 13);
  std::vector<std::string> args = {"verify", "--secret-file", Listener::secret_file(dir)};
  for (const auto& file : files) {
    CAPTURE(file);
    CHECK(file.extension() == ".json");
    CHECK(file.filename().string().front() != '.');  // no temporary file is left
    struct stat info {};
    REQUIRE(::stat(file.c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0600);
    CHECK(read_file(file).find(secret) == std::string::npos);
    args.push_back(file.string());
  }
  const Run verified = run_tykhook(args);
  CAPTURE(verified.err);
  CHECK(verified.status == 0);
  CHECK(count(verified.out, ": ok (") == 13);

  const Run run = listener.stop();
  CHECK(run.status == 0);
  CHECK(run.err.find(secret) == std::string::npos);
  CHECK(sent.out.find(secret) == std::string::npos);
  CHECK(sent.err.find(secret) == std::string::npos);
}

TEST_CASE("each capture re-verifies to the verdict its delivery was answered with") {
  TempDir dir;
  const auto captures = dir.path() / "captures";
  Listener listener(dir, {"--capture-dir", captures.string()});
  REQUIRE(listener.port > 0);
  const std::string fresh_time = tykhook::format_rfc3339(
      std::chrono::time_point_cast<std::chrono::nanoseconds>(tykhook::Clock::now()));
  const struct {
    std::string_view name;
    std::string body;
    int send_status;
    std::string_view verdict;
    bool captured;
  } cases[] = {
      {"a valid delivery",
       R"({"Event":"OrganisationRegistered","Message":{"ID":7,"Name":"ACME \u003cR\u0026D\u003e",)"
       R"("CreatedAt":"2024-04-22T16:38:54.082037+02:00"},"Timestamp":")" +
           fresh_time + R"("})",
       0, "ok", true},
      {"the same delivery again", "", 0, "duplicate", false},
      {"a Message of the wrong shape",
       R"({"Event":"ApplicationRegistered","Message":{"ID":"1","Name":"New App","UserID":1,)"
       R"("CreatedAt":"2024-04-18T13:29:23.738726+02:00"},"Timestamp":")" +
           fresh_time + R"("})",
       0, "schema_violation", true},
      {"an unknown event",
       R"({"Event":"UserDeleted","Message":{},"Timestamp":")" + fresh_time + R"("})", 0,
       "unknown_event", true},
      {"a delivery of 2024",
       R"({"Event":"OrganisationRegistered","Message":{"ID":1,"Name":"A",)"
       R"("CreatedAt":"2024-04-22T16:38:54Z"},"Timestamp":"2024-04-22T16:38:54Z"})",
       1, "stale", true},
  };
  std::string previous;
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const std::string body = c.body.empty() ? previous : c.body;
    previous = body;
    const auto before = files_in(captures);
    const Run sent = send(listener, dir, {"--body", dir.write("body.json", body)});
    CAPTURE(sent.err);
    CHECK(sent.status == c.send_status);
    CHECK(sent.out.find("X-Tykhook-Verdict: " + std::string(c.verdict) + "\n") !=
          std::string::npos);
    const auto after = files_in(captures);
    REQUIRE(after.size() == before.size() + (c.captured ? 1 : 0));
    if (!c.captured) continue;
    const fs::path capture = after.back();  // names sort by arrival
    CHECK(capture.filename().string().find(tykhook::idempotency_key(body)) != std::string::npos);

    std::vector<std::string> args = {"verify",   "--secret-file", Listener::secret_file(dir),
                                     "--format", "json",          capture.string()};
    if (c.verdict == "stale") {
      const auto document = nlohmann::json::parse(read_file(capture));
      args.insert(args.end(),
                  {"--tolerance", "5m", "--now", document["received"].get<std::string>()});
    }
    const Run verified = run_tykhook(args);
    CAPTURE(verified.err);
    const auto line = nlohmann::json::parse(verified.out);
    CHECK(line["verdict"] == c.verdict);
  }
  CHECK(listener.stop().status == 0);
}

TEST_CASE("--reject-invalid answers an authentic but invalid delivery with 400, and keeps it") {
  TempDir dir;
  const auto captures = dir.path() / "captures";
  Listener listener(dir, {"--capture-dir", captures.string(), "--reject-invalid"});
  REQUIRE(listener.port > 0);
  const Run sent = send(listener, dir, {"--body", dir.write("body.json", "{not json")});
  CHECK(sent.status == 1);
  CHECK(sent.out.find(": HTTP 400") != std::string::npos);
  CHECK(sent.out.find("X-Tykhook-Verdict: malformed_json\n") != std::string::npos);
  CHECK(files_in(captures).size() == 1);
  CHECK(listener.stop().status == 0);
}

TEST_CASE("SIGTERM while requests are in flight: each is answered, then listen exits 0") {
  TempDir dir;
  Listener listener(dir);
  REQUIRE(listener.port > 0);
  const std::string now = tykhook::format_rfc3339(
      std::chrono::time_point_cast<std::chrono::nanoseconds>(tykhook::Clock::now()));
  const auto delivery = [&](int id) {
    const std::string body = R"({"Event":"OrganisationRegistered","Message":{"ID":)" +
                             std::to_string(id) + R"(,"Name":"ACME",)" +
                             R"("CreatedAt":"2024-04-22T16:38:54Z"},"Timestamp":")" + now + R"("})";
    return "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Content-Length: " +
           std::to_string(body.size()) + "\r\nX-Signature-SHA256: " + tykhook::sign(secret, body) +
           "\r\n\r\n" + body;
  };
  // Two deliveries under way: one has sent all but the end of its body, one only its first bytes.
  const std::string first = delivery(7);
  const std::string second = delivery(8);
  const int nearly_done = connect_to(listener.port);
  ::send(nearly_done, first.data(), first.size() - 20, MSG_NOSIGNAL);
  const int just_begun = connect_to(listener.port);
  ::send(just_begun, second.data(), 10, MSG_NOSIGNAL);
  wait_until("listen to read the first bytes of both deliveries",
             [&] { return read_by_peer(nearly_done) && read_by_peer(just_begun); });

  listener.process->signal(SIGTERM);
  // Stopping begins with closing the listening socket.
  wait_until("listen to stop accepting connections after SIGTERM",
             [&] { return !accepts_connections(listener.port); });
  ::send(nearly_done, first.data() + first.size() - 20, 20, MSG_NOSIGNAL);
  ::send(just_begun, second.data() + 10, second.size() - 10, MSG_NOSIGNAL);
  for (const int fd : {nearly_done, just_begun}) {
    const std::string response = read_until_closed(fd);
    ::close(fd);
    CAPTURE(response);
    CHECK(response.starts_with("HTTP/1.1 200 "));
    CHECK(response.find("X-Tykhook-Verdict: ok\r\n") != std::string::npos);
  }

  const Run run = listener.process->wait();
  CHECK(run.status == 0);
  CHECK(count(run.err, " POST /hook ") == 2);
  // Once stopped, nothing listens on the port.
  CHECK_FALSE(accepts_connections(listener.port));
}

TEST_CASE("--require-header refuses deliveries without the header and lets HEAD through") {
  TempDir dir;
  Listener listener(dir, {"--require-header", "X-Portal-Token: t0ken-4b1d"});
  REQUIRE(listener.port > 0);
  const Run without = send(listener, dir, {"--event", "PasswordReset"});
  CHECK(without.status == 1);
  CHECK(without.out.find(": HTTP 401") != std::string::npos);
  CHECK(without.out.find("X-Tykhook-Verdict: rejected\n") != std::string::npos);
  CHECK(without.out.find("X-Portal-Token: required header missing") != std::string::npos);
  const Run wrong =
      send(listener, dir, {"--event", "PasswordReset", "--header", "X-Portal-Token: guess"});
  CHECK(wrong.status == 1);
  CHECK(wrong.out.find("X-Tykhook-Verdict: rejected\n") != std::string::npos);
  const Run with =
      send(listener, dir, {"--event", "PasswordReset", "--header", "X-Portal-Token: t0ken-4b1d"});
  CHECK(with.status == 0);
  CHECK(with.out.find("X-Tykhook-Verdict: ok\n") != std::string::npos);
  CHECK(request(listener.port, "HEAD", "/").starts_with("HTTP/1.1 200 "));
  const Run run = listener.stop();
  CHECK(run.status == 0);
  CHECK(count(run.err, " rejected 401 ") == 2);
  CHECK(run.err.find("t0ken-4b1d") == std::string::npos);
}

TEST_CASE("--log-format json writes one JSON object per request after the start-up lines") {
  TempDir dir;
  Listener listener(dir, {"--log-format", "json"});
  REQUIRE(listener.port > 0);
  CHECK(nlohmann::json::parse(listener.first_line)["listening"] ==
        "http://127.0.0.1:" + std::to_string(listener.port));
  CHECK(send(listener, dir, {"--event", "CredentialRegistered"}).status == 0);
  CHECK(request(listener.port, "HEAD", "/").starts_with("HTTP/1.1 200 "));
  const Run run = listener.stop();
  const auto lines = request_lines(listener, run);
  REQUIRE(lines.size() == 2);
  // The HEAD that followed the delivery may be logged first (see above).
  auto delivery = nlohmann::json::parse(lines[0]);
  auto head = nlohmann::json::parse(lines[1]);
  if (delivery["method"] == "HEAD") std::swap(delivery, head);
  CHECK(delivery["method"] == "POST");
  CHECK(delivery["path"] == "/webhooks/tyk");
  CHECK(delivery["event"] == "CredentialRegistered");
  CHECK(delivery["verdict"] == "ok");
  CHECK(delivery["status"] == 200);
  CHECK(delivery["ms"].is_number());
  CHECK(delivery["time"].get<std::string>().ends_with("Z"));
  CHECK(delivery["client"].get<std::string>().starts_with("127.0.0.1:"));
  CHECK_FALSE(delivery.contains("error"));
  CHECK(head["method"] == "HEAD");
  CHECK(head["verdict"].is_null());
  CHECK(head["event"].is_null());
}

TEST_CASE("--quiet keeps only the start-up lines when nothing fails; SIGINT stops listen too") {
  TempDir dir;
  Listener listener(dir, {"--quiet"});
  REQUIRE(listener.port > 0);
  CHECK(send(listener, dir, {"--event", "UserAccountActivated"}).status == 0);
  const Run run = listener.stop(SIGINT);
  CHECK(run.status == 0);
  CHECK(lines_of(run.err) == listener.startup);
}

TEST_CASE("GET /metrics counts the deliveries by event and verdict") {
  TempDir dir;
  Listener listener(dir);
  REQUIRE(listener.port > 0);
  CHECK(send(listener, dir, {"--event", "AccessRequestApproved"}).status == 0);
  const Run refused = run_tykhook(
      {"send", "--to", listener.url(), "--secret", "wrong", "--event", "AccessRequestApproved"});
  CHECK(refused.status == 1);
  // The log line, and with it the count, follows the response: wait for both lines.
  REQUIRE(listener.process->next_error_line().has_value());
  REQUIRE(listener.process->next_error_line().has_value());
  const std::string metrics = request(listener.port, "GET", "/metrics");
  CHECK(metrics.starts_with("HTTP/1.1 200 "));
  CHECK(metrics.find(R"(tykhook_deliveries_total{event="AccessRequestApproved",verdict="ok"} 1)") !=
        std::string::npos);
  CHECK(metrics.find(R"(tykhook_deliveries_total{event="none",verdict="signature_mismatch"} 1)") !=
        std::string::npos);
  CHECK(metrics.find(R"(tykhook_responses_total{status="401"} 1)") != std::string::npos);
  CHECK(metrics.find("tykhook_delivery_duration_seconds_count 2") != std::string::npos);
  CHECK(listener.stop().status == 0);
}

TEST_CASE("listen counts each delivery's clock skew, and --max-future bounds the future alone") {
  TempDir dir;
  Listener listener(dir, {"--max-future", "2s"});
  REQUIRE(listener.port > 0);
  const std::string body = source_file("samples/bodies/UserRegistered.json");
  const auto now = std::chrono::time_point_cast<std::chrono::nanoseconds>(tykhook::Clock::now());
  // Mid-bucket offsets: the second or so that a delivery takes to arrive moves none of them.
  const struct {
    std::string_view name;
    std::chrono::nanoseconds offset;
    std::string_view verdict;
    std::string_view error;
  } cases[] = {
      {"10m in the past", -10min, "stale", " in the past, beyond the tolerance of 5m;"},
      {"45s in the past", -45s, "ok", ""},
      {"7s ahead", 7s, "stale", " ahead of now, beyond the limit for times ahead of 2s;"},
      {"45s ahead", 45s, "stale", " ahead of now, beyond the limit for times ahead of 2s;"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const std::string file =
        dir.write(std::string(c.name) + ".json", *tykhook::with_timestamp(body, now + c.offset));
    const Run run = send(listener, dir, {"--body", file});
    CAPTURE(run.out);
    CHECK(run.out.find("X-Tykhook-Verdict: " + std::string(c.verdict) + "\n") != std::string::npos);
    if (!c.error.empty()) CHECK(run.out.find(std::string(c.error)) != std::string::npos);
    // The log line, and with it the count, follows the response.
    REQUIRE(listener.process->next_error_line().has_value());
  }
  const std::string metrics = request(listener.port, "GET", "/metrics");
  CAPTURE(metrics);
  for (const std::string_view line : {
           R"(tykhook_delivery_age_seconds_bucket{le="30"} 0)",
           R"(tykhook_delivery_age_seconds_bucket{le="60"} 1)",
           R"(tykhook_delivery_age_seconds_bucket{le="600"} 1)",
           R"(tykhook_delivery_age_seconds_bucket{le="1800"} 2)",
           R"(tykhook_delivery_age_seconds_bucket{le="+Inf"} 2)",
           "tykhook_delivery_age_seconds_count 2",
           R"(tykhook_clock_ahead_seconds_bucket{le="5"} 0)",
           R"(tykhook_clock_ahead_seconds_bucket{le="10"} 1)",
           R"(tykhook_clock_ahead_seconds_bucket{le="30"} 1)",
           R"(tykhook_clock_ahead_seconds_bucket{le="60"} 2)",
           "tykhook_clock_ahead_seconds_count 2",
       }) {
    CAPTURE(line);
    CHECK(metrics.find("\n" + std::string(line) + "\n") != std::string::npos);
  }
  CHECK(listener.stop().status == 0);
}

TEST_CASE("listen refuses to start on a port in use, or without a secret, with exit status 2") {
  TempDir dir;
  Listener first(dir);
  REQUIRE(first.port > 0);
  const Run taken = run_tykhook(
      {"listen", "--port", std::to_string(first.port), "--secret", "s", "--store", "memory:"});
  CHECK(taken.status == 2);
  CHECK(taken.err.find("127.0.0.1:" + std::to_string(first.port) +
                       ": cannot listen: Address already in use") != std::string::npos);
  const Run no_secret = run_tykhook({"listen", "--port", "0", "--store", "memory:"}, "",
                                    {{"PORTAL_WEBHOOKS_SECRET", ""}});
  CHECK(no_secret.status == 2);
  CHECK(no_secret.err.find("--secret-env PORTAL_WEBHOOKS_SECRET: the variable is not set") !=
        std::string::npos);
  const Run bad_store = run_tykhook({"listen", "--port", "0", "--secret", "s", "--store", "nope:"});
  CHECK(bad_store.status == 2);
  CHECK(bad_store.err.starts_with("tykhook listen: --store: "));
  const Run bad_header =
      run_tykhook({"listen", "--port", "0", "--secret", "s", "--require-header", "no colon"});
  CHECK(bad_header.status == 2);
  CHECK(bad_header.err.find("--require-header: no colon (what was given is not shown, in case it "
                            "holds a credential)") != std::string::npos);
  const Run bad_value = run_tykhook(
      {"listen", "--port", "0", "--secret", "s", "--require-header", "X Token: s3cr3t-value"});
  CHECK(bad_value.status == 2);
  CHECK(bad_value.err.find("--require-header: the part before the colon is not a header name") !=
        std::string::npos);
  CHECK(bad_value.err.find("s3cr3t-value") == std::string::npos);
  CHECK(first.stop().status == 0);
}

TEST_CASE(
    "listen names the whole captures that an interrupted run left, and says so after its "
    "first line") {
  for (const std::string format : {"text", "json"}) {
    CAPTURE(format);
    TempDir dir;
    const auto captures = dir.path() / "captures";
    fs::create_directories(captures);
    const std::string body =
        R"({"Event":"UserRegistered","Message":{},"Timestamp":"2024-04-24T15:26:04Z"})";
    const tykhook::Request request{.method = "POST",
                                   .target = "/webhooks/tyk",
                                   .headers = {{"X-Signature-SHA256", tykhook::sign(secret, body)}},
                                   .body = body};
    const auto received =
        std::chrono::time_point_cast<std::chrono::nanoseconds>(tykhook::Clock::now());
    const std::string name =
        tykhook::detail::capture_file_name(received, tykhook::idempotency_key(body));
    const fs::path left = captures / ("." + name + ".tmp");
    std::ofstream(left, std::ios::binary) << tykhook::write_json_capture(request, received);
    fs::last_write_time(left, fs::file_time_type::clock::now() - 1min);

    Listener listener(dir, {"--capture-dir", captures.string(), "--log-format", format});
    REQUIRE(listener.port > 0);
    const Run run = listener.stop();
    CHECK(run.status == 0);
    CHECK(fs::exists(captures / name));
    CHECK_FALSE(fs::exists(left));
    // After the capture directory's line, before the last one.
    const auto& lines = listener.startup;
    CHECK(lines_of(run.err) == lines);
    REQUIRE(lines.size() == 6);
    if (format == "text") {
      CHECK(lines[4] == "tykhook listen: " + captures.string() +
                            ": capture files left unfinished by an interrupted run: 1 whole, now "
                            "named as captures (never answered: the portal will not send them "
                            "again), 0 incomplete, removed");
    } else {
      const auto line = nlohmann::json::parse(lines[4]);
      CHECK(line["capture_dir"] == captures.string());
      CHECK(line["recovered_captures"] == 1);
      CHECK(line["removed_captures"] == 0);
    }
  }
}

TEST_CASE("listen's first lines name its secrets, store and capture directory, and what it keeps") {
  TempDir dir;
  const std::string db = (dir.path() / "store.db").string();
  const std::vector<std::string> args = {"listen",
                                         "--port",
                                         "0",
                                         "--store",
                                         "sqlite:" + db,
                                         "--secret-file",
                                         Listener::secret_file(dir)};
  const auto start = [&](const std::vector<std::string>& extra = {}) {
    auto all = args;
    all.insert(all.end(), extra.begin(), extra.end());
    auto process = std::make_unique<Background>(all);
    auto lines = read_startup_lines(*process);
    process->signal(SIGTERM);
    const Run run = process->wait();
    CHECK(run.status == 0);
    CHECK(run.err.find(secret) == std::string::npos);
    return lines;
  };

  SUBCASE("without --capture-dir it says that the deliveries are not kept") {
    auto lines = start();
    REQUIRE(lines.size() == 5);
    CHECK(listening_port(lines[0]) > 0);
    CHECK(lines[1] == "tykhook listen: secrets: 1, from --secret-file");
    CHECK(lines[2] ==
          "tykhook listen: store: sqlite:" + db + " (created): idempotency keys for 7d, on disk");
    CHECK(lines[3] == "tykhook listen: capture directory: none (no --capture-dir)");
    CHECK(lines[4] ==
          "tykhook listen: not kept: the deliveries themselves: each authentic one is answered "
          "and then gone (the store keeps only its idempotency key); add --forward-to URL or "
          "--exec COMMAND to hand them on, or --capture-dir DIR to keep every one");
    // The second start finds the store's file.
    lines = start();
    REQUIRE(lines.size() == 5);
    CHECK(lines[2] == "tykhook listen: store: sqlite:" + db + ": idempotency keys for 7d, on disk");
  }
  SUBCASE("with --capture-dir it names the directory, created or not, and keeps every delivery") {
    const std::string captures = (dir.path() / "captures").string();
    auto lines = start({"--capture-dir", captures, "--secret", "second-SECRET-160", "--secret",
                        "third-SECRET-2200"});
    REQUIRE(lines.size() == 5);
    CHECK(lines[1] == "tykhook listen: secrets: 3, from --secret-file and --secret (2)");
    CHECK(lines[3] == "tykhook listen: capture directory: " + captures +
                          " (created): each authentic delivery, its exact request, written "
                          "before it is answered");
    CHECK(lines[4] == "tykhook listen: kept: every authentic delivery, as a file in " + captures +
                          " before its answer");
    for (const auto& line : lines) CHECK(line.find("SECRET") == std::string::npos);
    lines = start({"--capture-dir", captures});
    REQUIRE(lines.size() == 5);
    CHECK(lines[3] == "tykhook listen: capture directory: " + captures +
                          ": each authentic delivery, its exact request, written before it is "
                          "answered");
  }
}

TEST_CASE("listen's start-up lines with a secret from the environment and the memory store") {
  auto process = std::make_unique<Background>(
      std::vector<std::string>{"listen", "--port", "0", "--store", "memory:"},
      std::map<std::string, std::string>{{"PORTAL_WEBHOOKS_SECRET", secret}});
  const auto lines = read_startup_lines(*process);
  REQUIRE(lines.size() == 5);
  CHECK(lines[1] == "tykhook listen: secrets: 1, from $PORTAL_WEBHOOKS_SECRET");
  CHECK(lines[2] ==
        "tykhook listen: store: memory:: idempotency keys for 7d in this process's memory, lost "
        "when it exits");
  process->signal(SIGTERM);
  const Run run = process->wait();
  CHECK(run.status == 0);
  CHECK(run.err.find(secret) == std::string::npos);
}

TEST_CASE("with --log-format json every line is JSON: the first carries the URL, errors too") {
  TempDir dir;
  const std::string captures = (dir.path() / "captures").string();
  Listener listener(dir, {"--log-format", "json", "--capture-dir", captures});
  REQUIRE(listener.port > 0);
  REQUIRE(listener.startup.size() == 5);
  std::vector<nlohmann::json> objects;
  for (const auto& line : listener.startup) {
    CAPTURE(line);
    objects.push_back(nlohmann::json::parse(line));
    CHECK(objects.back()["time"].get<std::string>().ends_with("Z"));
  }
  CHECK(objects[0]["listening"] == listener.url(""));
  CHECK(objects[1]["secrets"] == 1);
  CHECK(objects[1]["secret_files"] == 1);
  CHECK(objects[2]["store"] == "memory:");
  CHECK(objects[2]["path"].is_null());
  CHECK(objects[3]["capture_dir"] == captures);
  CHECK(objects[3]["created"] == true);
  CHECK(objects[4]["deliveries_kept"] == true);

  // Refused at start (the port is taken): the error is a JSON line as well, exit status 2.
  const Run taken =
      run_tykhook({"listen", "--port", std::to_string(listener.port), "--secret-file",
                   Listener::secret_file(dir), "--store", "memory:", "--log-format", "json"});
  CHECK(taken.status == 2);
  const auto lines = lines_of(taken.err);
  REQUIRE(lines.size() == 1);
  const auto error = nlohmann::json::parse(lines[0]);
  CHECK(error["error"].get<std::string>().starts_with("tykhook listen: 127.0.0.1:"));
  CHECK(error["error"].get<std::string>().find("cannot listen") != std::string::npos);
  CHECK(listener.stop().status == 0);
}
