// The capture directory: the files the receiver writes, and the ones an interrupted run left.

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

// Writes `text` as `dir/name`, last modified `age` ago.
fs::path leave(const fs::path& dir, const std::string& name, const std::string& text,
               std::chrono::seconds age = 60s) {
  const fs::path path = dir / name;
  std::ofstream(path, std::ios::binary) << text;
  fs::last_write_time(path, fs::file_time_type::clock::now() - age);
  return path;
}

// A whole capture of a fresh `event` delivery, and the name write() gives it.
std::pair<std::string, std::string> capture_of(std::string_view event) {
  const std::string body = fresh(sample(event));
  Request request{.method = "POST",
                  .target = "/webhooks/tyk",
                  .headers = {{"X-Signature-SHA256", sign(secret, body)}},
                  .body = body};
  const TimePoint received = now();
  return {write_json_capture(request, received),
          detail::capture_file_name(received, idempotency_key(body))};
}

}  // namespace

TEST_CASE("capture files sort by arrival, carry the key, have mode 0600 and re-verify the same") {
  TempDir captures;
  ReceiverOptions options = with_store();
  options.capture_dir = captures.path();
  options.required_header = Header{"X-Portal-Token", "t0ken"};
  Running running(std::move(options));
  const httplib::Headers token = {{"X-Portal-Token", "t0ken"}};

  const std::string ok_body = fresh(sample("UserRegistered"));
  const struct {
    std::string body;
    std::string key;
    std::string_view verdict;
    bool captured;
  } sent[] = {
      {ok_body, secret, "ok", true},
      {ok_body, secret, "duplicate", false},
      {schema_broken, secret, "schema_violation", true},
      {schema_broken, secret, "schema_violation", false},  // kept once
      {sample("AccessRequestApproved"), secret, "stale", true},
      {fresh(sample("PasswordReset")), "other", "signature_mismatch", false},
      {fresh(sample("PasswordReset")), secret, "ok", true},
  };
  std::vector<std::string> want_keys;
  std::vector<std::string_view> want_verdicts;
  for (const auto& delivery : sent) {
    CAPTURE(delivery.verdict);
    const auto result = running.deliver(delivery.body, delivery.key, token);
    REQUIRE(result);
    CHECK(result->get_header_value("X-Tykhook-Verdict") == delivery.verdict);
    if (delivery.captured) {
      want_keys.push_back(idempotency_key(delivery.body));
      want_verdicts.push_back(delivery.verdict);
    }
  }

  const auto files = files_in(captures.path());
  REQUIRE(files.size() == want_keys.size());
  const std::regex name_form(R"(\d{8}T\d{6}\.\d{9}Z-([0-9a-f]{64})\.json)");
  // A stale delivery is stale again as of the time it was received.
  const auto verifier_for = [](std::string_view verdict) {
    VerifierOptions options{.secrets = {Secret(secret)}, .schemas = SchemaRegistry::embedded()};
    if (verdict == "stale") options.tolerance = std::chrono::minutes(5);
    return Verifier(std::move(options));
  };
  for (std::size_t i = 0; i < files.size(); ++i) {
    const std::string name = files[i].filename().string();
    CAPTURE(name);
    std::smatch match;
    REQUIRE(std::regex_match(name, match, name_form));
    CHECK(match[1].str() == want_keys[i]);  // sorted by name is the order of arrival
    struct stat info {};
    REQUIRE(::stat(files[i].c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0600);

    const std::string text = read_file(files[i]);
    CHECK(text.find("t0ken") == std::string::npos);
    CHECK(text.find(secret) == std::string::npos);
    const auto captured = read_captures(text, name);
    REQUIRE(captured.size() == 1);
    REQUIRE(captured[0].request);
    const auto document = nlohmann::json::parse(text);
    const TimePoint received = *parse_rfc3339(document["received"].get<std::string>());
    const Verdict verdict = verifier_for(want_verdicts[i]).verify(*captured[0].request, received);
    CHECK(to_string(verdict.kind) == want_verdicts[i]);
  }
}

TEST_CASE("a capture that cannot be written is answered 503 and its claim released") {
  TempDir captures;
  ReceiverOptions options = with_store();
  options.capture_dir = captures.path() / "deliveries";
  Running running(std::move(options));
  // A directory removed under the receiver: no file can be created in it any more.
  fs::remove_all(captures.path() / "deliveries");
  const std::string body = fresh(sample("UserRegistered"));
  for (int attempt = 0; attempt < 2; ++attempt) {
    CAPTURE(attempt);
    const auto result = running.deliver(body);
    REQUIRE(result);
    CHECK(result->status == 503);  // the second time too: not a duplicate
    CHECK(result->get_header_value("X-Tykhook-Verdict") == "error");
  }
  const auto records = running.records(2);
  REQUIRE(records.size() == 2);
  CHECK(metric_line(running.receiver().metrics(), "tykhook_capture_errors_total") ==
        "tykhook_capture_errors_total 2");
  CHECK(records[0].error.find("cannot create") != std::string::npos);
}

TEST_CASE("a capture file's name holds its arrival time at both ends of the range") {
  const std::string key(64, 'a');
  CHECK(detail::capture_file_name(TimePoint::min(), key) ==
        "00010101T000000.000000000Z-" + key + ".json");
  CHECK(detail::capture_file_name(TimePoint::max(), key) ==
        "22620411T234716.854775807Z-" + key + ".json");
  CHECK(detail::capture_file_name(TimePoint(std::chrono::nanoseconds(-1)), key) ==
        "19691231T235959.999999999Z-" + key + ".json");
  CHECK(detail::capture_file_name(*parse_rfc3339("2024-04-24T15:26:04.329Z"), key) ==
        "20240424T152604.329000000Z-" + key + ".json");
}

TEST_CASE("a leftover's age is told for any time its file system holds (fuzz: verifier)") {
  // Converting such a file time to nanoseconds since the epoch overflowed; the one far in the
  // future is not settled (left), the one far in the past is (recovered).
  TempDir dir;
  const auto [future, future_name] = capture_of("UserRegistered");
  const fs::path future_path = leave(dir.path(), "." + future_name + ".tmp", future);
  const auto [past, past_name] = capture_of("PasswordReset");
  const fs::path past_path = leave(dir.path(), "." + past_name + ".tmp", past);
  const auto set_time = [](const fs::path& path, time_t seconds) {
    const struct timespec times[2] = {{seconds, 0}, {seconds, 0}};
    REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
  };
  set_time(future_path, 13'569'465'600);  // 2400-01-01
  set_time(past_path, -2'147'483'648);    // 1901-12-13, the earliest ext4 holds
  struct stat status {};
  REQUIRE(::stat(future_path.c_str(), &status) == 0);
  CAPTURE(status.st_mtim.tv_sec);
  REQUIRE(status.st_mtim.tv_sec > 9'223'372'036);  // past 2262 on this file system

  ReceiverOptions options = with_store();
  options.verifier.secrets.emplace_back(secret);
  options.capture_dir = dir.path();
  const CaptureRecovery found = Receiver(std::move(options)).capture_recovery();
  CHECK(found.recovered == 1);
  CHECK(found.removed == 0);
  CHECK(fs::exists(future_path));
  CHECK(read_file(dir.path() / past_name) == past);
}

TEST_CASE(
    "a receiver names the whole captures that an interrupted run left, and removes the "
    "incomplete ones") {
  TempDir dir;
  const auto [whole, whole_name] = capture_of("UserRegistered");
  leave(dir.path(), "." + whole_name + ".tmp", whole);
  const auto [cut, cut_name] = capture_of("PasswordReset");
  leave(dir.path(), "." + cut_name + ".tmp", cut.substr(0, cut.size() / 2));
  // A whole capture under the name of another body: not what write() made of it.
  const auto [other, other_name] = capture_of("ApplicationRegistered");
  const auto [stranger, stranger_name] = capture_of("OrganisationRegistered");
  leave(dir.path(), "." + other_name + ".tmp", stranger);
  // Its capture is there already: the leftover goes, the capture stays as it is.
  const auto [twice, twice_name] = capture_of("AccessRequestCreated");
  leave(dir.path(), twice_name, twice);
  leave(dir.path(), "." + twice_name + ".tmp", twice + " ");
  // Left alone: one written a moment ago, one that a live writer holds, and other names.
  const auto [recent, recent_name] = capture_of("UserAccountActivated");
  leave(dir.path(), "." + recent_name + ".tmp", recent, 0s);
  const auto [held, held_name] = capture_of("UserAccountDeactivated");
  const fs::path held_path = leave(dir.path(), "." + held_name + ".tmp", held);
  const int lock = ::open(held_path.c_str(), O_RDONLY);
  REQUIRE(::flock(lock, LOCK_EX) == 0);
  leave(dir.path(), ".keep", "");
  leave(dir.path(), ".notes.json.tmp", "{}");

  ReceiverOptions options = with_store();
  options.verifier.secrets.emplace_back(secret);
  options.capture_dir = dir.path();
  const CaptureRecovery found = Receiver(std::move(options)).capture_recovery();
  ::close(lock);
  CHECK(found.recovered == 1);
  CHECK(found.removed == 3);
  CHECK(read_file(dir.path() / whole_name) == whole);
  CHECK(read_file(dir.path() / twice_name) == twice);
  std::vector<std::string> names;
  for (const auto& file : files_in(dir.path())) names.push_back(file.filename().string());
  const std::vector<std::string> expected = {std::string(".") + held_name + ".tmp",
                                             std::string(".") + recent_name + ".tmp",
                                             ".keep",
                                             ".notes.json.tmp",
                                             twice_name,
                                             whole_name};
  auto sorted = expected;
  std::sort(sorted.begin(), sorted.end());
  CHECK(names == sorted);

  // The one recovered reads back as the delivery it was.
  const auto captures = read_captures(read_file(dir.path() / whole_name), whole_name);
  REQUIRE(captures.size() == 1);
  REQUIRE(captures.front().request);
  CHECK(idempotency_key(captures.front().request->body) + ".json" ==
        whole_name.substr(whole_name.size() - 69));

  // Without a capture directory there is nothing to recover.
  ReceiverOptions without = with_store();
  without.verifier.secrets.emplace_back(secret);
  const CaptureRecovery none = Receiver(std::move(without)).capture_recovery();
  CHECK(none.recovered + none.removed == 0);
}
