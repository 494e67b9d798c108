// The receiver's public face: misuse of its options and of bind() and serve().

#include "tykhook/receiver.h"

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
#include "tykhook/schema.h"
#include "tykhook/signature.h"
#include "tykhook/store.h"

using namespace tykhook;
using namespace tykhook::receiver_test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST_CASE("misuse of the receiver is refused with invalid_argument") {
  const auto options_with = [](auto change) {
    ReceiverOptions options;
    options.verifier.secrets.emplace_back(secret);
    change(options);
    return options;
  };
  CHECK_THROWS_WITH_AS(Receiver(options_with([](ReceiverOptions& o) { o.threads = 0; })),
                       "tykhook::Receiver: threads is 0; give a positive value",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(Receiver(options_with([](ReceiverOptions& o) { o.read_timeout = 0ms; })),
                       "tykhook::Receiver: read_timeout is 0; give a positive value",
                       std::invalid_argument);
  CHECK_THROWS_AS(Receiver(options_with([](ReceiverOptions& o) {
                    o.required_header = Header{"X Token", "v"};
                  })),
                  std::invalid_argument);
  CHECK_THROWS_AS(Receiver(ReceiverOptions{}), std::invalid_argument);  // no secret
  Receiver receiver(options_with([](ReceiverOptions&) {}));
  CHECK_THROWS_WITH_AS(receiver.serve(), "tykhook::Receiver::serve: not bound; call bind() first",
                       std::invalid_argument);
  const int port = receiver.bind("127.0.0.1", 0);
  CHECK(port > 0);
  CHECK(receiver.port() == port);
  Receiver second(options_with([](ReceiverOptions&) {}));
  CHECK_THROWS_AS(second.bind("127.0.0.1", port), Error);  // the port is taken
}
