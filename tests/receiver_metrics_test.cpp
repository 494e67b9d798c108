// What the receiver counts (GET /metrics) and logs (one record per request).

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

TEST_CASE("metrics count deliveries by event and verdict, statuses and latency") {
  Running running(with_store());
  const std::string body = fresh(sample("UserRegistered"));
  REQUIRE(running.deliver(body));
  REQUIRE(running.deliver(body));
  REQUIRE(running.deliver(body, "other"));
  REQUIRE(running.client().Head("/"));
  REQUIRE(running.records(4).size() == 4);
  const auto result = running.client().Get("/metrics");
  REQUIRE(result);
  CHECK(result->status == 200);
  CHECK(result->get_header_value("Content-Type").starts_with("text/plain; version=0.0.4"));
  const std::string& metrics = result->body;
  const std::string_view want[] = {
      R"(tykhook_deliveries_total{event="UserRegistered",verdict="ok"} 1)",
      R"(tykhook_deliveries_total{event="UserRegistered",verdict="duplicate"} 1)",
      R"(tykhook_deliveries_total{event="none",verdict="signature_mismatch"} 1)",
      R"(tykhook_responses_total{status="200"} 3)",
      R"(tykhook_responses_total{status="401"} 1)",
      R"(tykhook_delivery_duration_seconds_bucket{le="+Inf"} 3)",
      "tykhook_delivery_duration_seconds_count 3",
      "tykhook_store_errors_total 0",
      "# TYPE tykhook_delivery_duration_seconds histogram",
  };
  for (const auto line : want) {
    CAPTURE(line);
    CHECK(metrics.find(std::string(line) + "\n") != std::string::npos);
  }
}

TEST_CASE("an unknown event's name never becomes a metric label") {
  ReceiverOptions options = with_store();
  options.verifier.allow_unknown_events = true;
  Running running(std::move(options));
  const auto result =
      running.deliver(fresh(R"({"Event":"Evil\"} 1\n","Message":{},"Timestamp":""})"));
  REQUIRE(result);
  CHECK(result->status == 200);
  REQUIRE(running.records(1).size() == 1);
  CHECK(running.receiver().metrics().find(
            R"(tykhook_deliveries_total{event="unknown",verdict="ok"} 1)") != std::string::npos);
}

TEST_CASE("log records name the request but hold no body, signature or secret") {
  Running running(with_store());
  const std::string body = fresh(sample("UserRegistered"));
  REQUIRE(running.deliver(body));
  const auto records = running.records(1);
  REQUIRE(records.size() == 1);
  const RequestRecord& record = records[0];
  CHECK(record.method == "POST");
  CHECK(record.path == "/webhooks/tyk");
  CHECK(record.client.starts_with("127.0.0.1:"));
  CHECK(record.event == "UserRegistered");
  CHECK(record.verdict == "ok");
  CHECK(record.status == 200);
  CHECK(record.duration > std::chrono::microseconds(0));
  for (const std::string& field : {record.client, record.method, record.path, record.error}) {
    CHECK(field.find(sign(secret, body)) == std::string::npos);
    CHECK(field.find(secret) == std::string::npos);
    CHECK(field.find("developer@user.com") == std::string::npos);
  }
}
