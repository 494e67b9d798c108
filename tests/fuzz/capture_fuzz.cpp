// Fuzz target: read_captures on any text (raw HTTP, tykhook JSON capture, HAR, bare body).
// Every capture read must write out as a JSON capture that reads back as the same request.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_checks.h"
#include "tykhook/capture.h"
#include "tykhook/request.h"
#include "tykhook/timestamp.h"

namespace {

using tykhook::fuzz::require;

bool is_ascii(const std::string& text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// A JSON capture keeps every byte of the body, the method and the target; header bytes that
// are not UTF-8 become U+FFFD, so only ASCII headers are compared byte for byte.
void require_json_round_trip(const tykhook::Request& request) {
  const tykhook::TimePoint received{std::chrono::seconds(1713972364)};
  const std::string written = tykhook::write_json_capture(request, received);
  const auto again = tykhook::read_captures(written, "written");
  require(again.size() == 1, "a written JSON capture reads as one capture");
  require(again[0].request.ok(), "a written JSON capture reads back: " + again[0].request.error);
  const tykhook::Request& read = *again[0].request;
  require(read.method == request.method, "the method survives a JSON capture");
  require(read.target == request.target, "the target survives a JSON capture");
  require(read.body == request.body, "the body survives a JSON capture");
  require(read.headers.size() == request.headers.size(), "every header survives a JSON capture");
  for (std::size_t i = 0; i < read.headers.size(); ++i) {
    const auto& before = request.headers[i];
    if (!is_ascii(before.name) || !is_ascii(before.value)) continue;
    require(read.headers[i].name == before.name && read.headers[i].value == before.value,
            "an ASCII header survives a JSON capture");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = tykhook::fuzz::bytes_of(data, size);
  const auto captures = tykhook::read_captures(text, "fuzz");
  require(!captures.empty(), "read_captures returns at least one capture");
  for (const auto& capture : captures) {
    require(capture.input.starts_with("fuzz"), "a capture is named after its input");
    if (!capture.request.ok()) {
      tykhook::fuzz::require_message(capture.request.error, "read_captures");
      continue;
    }
    require(capture.request.error.empty(), "a capture that was read has no error");
    require(capture.request->body.size() <= size, "a body is never longer than its input");
    require_json_round_trip(*capture.request);
  }
  return 0;
}
