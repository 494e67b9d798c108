// Hostile input through the library's two entry points, read_captures and Verifier::verify:
// inputs at and past each size limit, and shapes that strain a parser. Each row names the exact
// verdict and words of its message, and every verdict must come within a bounded time with a
// message that is short, one line and UTF-8, whatever the input held.

#include <doctest/doctest.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "tykhook/capture.h"
#include "tykhook/envelope.h"
#include "tykhook/events.h"
#include "tykhook/request.h"
#include "tykhook/schema.h"
#include "tykhook/signature.h"
#include "tykhook/timestamp.h"
#include "tykhook/verifier.h"

using namespace tykhook;

namespace {

const std::string secret = "hostile-test-secret";
constexpr std::size_t mib = 1024 * 1024;
// Generous, for slow sanitizer builds on a busy machine: the point is "seconds, not minutes".
constexpr auto time_bound = std::chrono::seconds(10);

const std::string sample(*sample_body(Event::UserRegistered));
const TimePoint sent = parse_envelope(sample).envelope->timestamp;

const Verifier& verifier() {
  static const Verifier instance = [] {
    VerifierOptions options;
    options.secrets.emplace_back(secret);
    options.schemas = SchemaRegistry::embedded();
    return Verifier(std::move(options));
  }();
  return instance;
}

// The sample with `member`'s text (between the quotes, or a bare value) replaced by `value`.
std::string sample_with(std::string_view member, std::string_view old_value,
                        std::string_view value) {
  std::string body = sample;
  const std::string from = "\"" + std::string(member) + "\":" + std::string(old_value);
  const auto at = body.find(from);
  REQUIRE(at != std::string::npos);
  body.replace(at, from.size(), "\"" + std::string(member) + "\":" + std::string(value));
  return body;
}

// A raw HTTP/1.1 capture of `body`, signed, with Content-Length and `extra` header lines.
std::string raw(const std::string& body, const std::string& extra = {}) {
  return "POST /hook HTTP/1.1\r\nHost: h\r\nX-Signature-SHA256: " + sign(secret, body) + "\r\n" +
         extra + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// A raw capture whose body is sent as `chunks` (each "SIZE\r\nDATA\r\n" as given), signed over
// `body`, the bytes the chunks decode to.
std::string chunked(const std::string& body, const std::string& chunks) {
  return "POST /hook HTTP/1.1\r\nX-Signature-SHA256: " + sign(secret, body) +
         "\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks;
}

std::string hex(std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  do {
    out.insert(out.begin(), digits[n % 16]);
    n /= 16;
  } while (n != 0);
  return out;
}

bool is_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = 1;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      low = lead == 0xE0 ? 0xA0 : 0x80;
      high = lead == 0xED ? 0x9F : 0xBF;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      low = lead == 0xF0 ? 0x90 : 0x80;
      high = lead == 0xF4 ? 0x8F : 0xBF;
    } else if (lead >= 0x80) {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto byte = static_cast<unsigned char>(text[i + k]);
      if (k == 1 ? byte < low || byte > high : byte < 0x80 || byte > 0xBF) return false;
    }
    i += length;
  }
  return true;
}

struct Outcome {
  std::string verdict;
  std::vector<std::string> errors;
};

// What tykhook verify makes of one capture file: each capture read, then verified.
Outcome verify_capture(const std::string& text) {
  const auto captures = read_captures(text, "hostile.http");
  REQUIRE(captures.size() == 1);
  if (!captures[0].request) return {"malformed_request", {captures[0].request.error}};
  const Verdict verdict = verifier().verify(*captures[0].request, sent);
  return {std::string(to_string(verdict.kind)), verdict.errors};
}

// The verdict on `body` sent with its correct signature.
Outcome verify_body(const std::string& body) {
  const Request request{.headers = {{"X-Signature-SHA256", sign(secret, body)}}, .body = body};
  const Verdict verdict = verifier().verify(request, sent);
  return {std::string(to_string(verdict.kind)), verdict.errors};
}

struct Row {
  std::string_view name;
  std::string input;
  std::string_view want;
  std::string_view words;  ///< in the first message; empty for ok
};

// Runs each row through `run` and checks its verdict, its message and the time it took.
template <class Run>
void check_rows(const std::vector<Row>& rows, const Run& run) {
  for (const Row& row : rows) {
    CAPTURE(row.name);
    const auto started = std::chrono::steady_clock::now();
    const Outcome outcome = run(row.input);
    CHECK(std::chrono::steady_clock::now() - started < time_bound);
    CHECK(outcome.verdict == row.want);
    if (row.want == "ok") {
      CHECK(outcome.errors.empty());
      continue;
    }
    REQUIRE_FALSE(outcome.errors.empty());
    CAPTURE(outcome.errors.front().substr(0, 300));
    CHECK(outcome.errors.front().find(row.words) != std::string::npos);
    for (const std::string& error : outcome.errors) {
      CHECK(error.size() <= 1024);
      CHECK(is_utf8(error));
      CHECK(error.find('\n') == std::string::npos);
    }
  }
}

}  // namespace

TEST_CASE("bodies at the size limit pass and one byte more is too_large, however framed") {
  const std::string at_limit = sample + std::string(mib - sample.size(), ' ');
  const std::string over = at_limit + " ";
  const std::size_t half = at_limit.size() / 2;
  const auto in_two_chunks = [&](const std::string& body) {
    return chunked(body, hex(half) + "\r\n" + body.substr(0, half) + "\r\n" +
                             hex(body.size() - half) + "\r\n" + body.substr(half) +
                             "\r\n0\r\n\r\n");
  };
  check_rows(
      {
          {"1 MiB with Content-Length", raw(at_limit), "ok", ""},
          {"1 MiB + 1 with Content-Length", raw(over), "too_large",
           "body: 1048577 bytes is over the limit of 1048576 bytes"},
          {"1 MiB in two chunks", in_two_chunks(at_limit), "ok", ""},
          {"1 MiB + 1 in two chunks (the limit applies after decoding)", in_two_chunks(over),
           "too_large", "1048577 bytes is over the limit"},
          {"1 MiB + 1 in 1-byte chunks",
           chunked(over,
                   [&] {
                     std::string chunks;
                     for (const char c : over) chunks += std::string("1\r\n") + c + "\r\n";
                     return chunks + "0\r\n\r\n";
                   }()),
           "too_large", "1048577 bytes is over the limit"},
          {"16 MiB with Content-Length", raw(std::string(16 * mib, ' ')), "too_large",
           "16777216 bytes is over the limit"},
      },
      verify_capture);
}

TEST_CASE("header sections past their limits are malformed_request, read no further") {
  std::string many = "POST /hook HTTP/1.1\r\n";
  for (int i = 0; i < 10000; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  check_rows(
      {
          {"10 000 headers", many + "\r\n" + sample, "malformed_request",
           "hostile.http:102: more than 100 headers"},
          {"a 1 MiB header line", raw(sample, "X-Long: " + std::string(mib, 'a') + "\r\n"),
           "malformed_request", "hostile.http:4: line is longer than 8192 bytes"},
          {"a 1 MiB request target",
           "POST /" + std::string(mib, 'a') + " HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
           "malformed_request", "hostile.http:1: line is longer than 8192 bytes"},
          {"a 1 MiB header line without any line end",
           "POST /hook HTTP/1.1\r\nX-Long: " + std::string(mib, 'a'), "malformed_request",
           "hostile.http:2: line is longer than 8192 bytes"},
          {"an 8000-digit signature",
           [] {
             std::string text = raw(sample);
             const auto at = text.find(sign(secret, sample));
             return text.replace(at, 64, std::string(8000, 'a'));
           }(),
           "malformed_signature", "expected 64 hex digits, got 8000"},
      },
      verify_capture);
}

TEST_CASE("chunk sizes and Content-Lengths that overflow 64 bits are malformed_request") {
  const std::string two_to_the_64 = "10000000000000000";  // 17 hex digits
  check_rows(
      {
          {"a chunk of 2^64 bytes",
           chunked(sample, two_to_the_64 + "\r\n" + sample + "\r\n0\r\n\r\n"), "malformed_request",
           "hostile.http:5: chunk size \"10000000000000000\" overflows 64 bits"},
          {"a chunk of 2^64 - 1 bytes",
           chunked(sample, "ffffffffffffffff\r\n" + sample + "\r\n0\r\n\r\n"), "malformed_request",
           "chunk of 18446744073709551615 bytes is cut off"},
          {"a chunk size of 100 hex digits",
           chunked(sample, std::string(100, 'f') + "\r\n" + sample + "\r\n0\r\n\r\n"),
           "malformed_request", "overflows 64 bits"},
          {"a chunk size of 10 000 hex digits (a line over 8 KiB)",
           chunked(sample, std::string(10000, 'f') + "\r\n" + sample + "\r\n0\r\n\r\n"),
           "malformed_request", "hostile.http:5: line is longer than 8192 bytes"},
          {"a chunk size of 8000 zeros and a 1 is one byte",
           chunked(sample, std::string(8000, '0') + "1\r\nx\r\n0\r\n\r\n"), "signature_mismatch",
           "does not match the body"},
          {"Content-Length 2^64",
           "POST /hook HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n{}",
           "malformed_request", "overflows 64 bits"},
          {"Content-Length 2^64 - 1",
           "POST /hook HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n{}",
           "malformed_request", "body has 2 bytes but Content-Length is 18446744073709551615"},
      },
      verify_capture);
}

TEST_CASE("deep nesting is malformed_json, found before parsing") {
  const std::string deep_objects = [] {
    std::string text;
    for (int i = 0; i < 100000; ++i) text += "{\"a\":";
    return text;
  }();
  check_rows(
      {
          {"100 000 opened arrays", std::string(100000, '['), "malformed_json",
           "body byte 64: JSON nests deeper than 64 levels"},
          {"100 000 arrays, closed", std::string(100000, '[') + std::string(100000, ']'),
           "malformed_json", "deeper than 64 levels"},
          {"100 000 objects", deep_objects, "malformed_json", "deeper than 64 levels"},
          {"100 000 arrays inside Message",
           sample_with("ID", "29", std::string(100000, '[') + std::string(100000, ']')),
           "malformed_json", "deeper than 64 levels"},
      },
      verify_body);
}

TEST_CASE("long strings and numbers get a verdict and a short message") {
  const std::string one_mib_first = [] {
    const std::size_t room = mib - (sample.size() - std::string_view("FirstName").size());
    return sample_with("First", "\"FirstName\"", "\"" + std::string(room - 2, 'x') + "\"");
  }();
  check_rows(
      {
          {"a string of 1 MiB less the rest of the body", one_mib_first, "ok", ""},
          {"an Event of 1 MiB",
           sample_with("Event", "\"UserRegistered\"", "\"" + std::string(mib - 400, 'E') + "\""),
           "unknown_event", "/Event: \"EEEE"},
          {"an unterminated 1 MiB string", "{\"Event\":\"" + std::string(mib - 20, 'x'),
           "malformed_json", "invalid string: missing closing quote"},
          {"a 1 MiB string ending in an invalid byte",
           "{\"Event\":\"" + std::string(mib - 20, 'x') + "\xff\"}", "malformed_json",
           "ill-formed UTF-8 byte"},
          {"an integer of 10 000 digits", sample_with("ID", "29", std::string(10000, '9')),
           "malformed_json", "number overflow"},
          {"a fraction of 10 000 digits", sample_with("ID", "29", "0." + std::string(10000, '1')),
           "schema_violation", "/Message/ID: expected integer, got number"},
          {"an exponent of 10 000 digits", sample_with("ID", "29", "1e" + std::string(10000, '9')),
           "malformed_json", "number overflow"},
          {"an integer past 64 bits", sample_with("ID", "29", "18446744073709551616"),
           "schema_violation", "/Message/ID: expected integer, got number"},
      },
      verify_body);
}

TEST_CASE("repeated names are malformed_json, however spelled") {
  check_rows(
      {
          {"Event twice",
           sample_with("Event", "\"UserRegistered\"", "\"UserRegistered\",\"Event\":\"X\""),
           "malformed_json", "object member \"Event\" appears twice"},
          {"Event twice, once escaped",
           sample_with("Event", "\"UserRegistered\"", "\"UserRegistered\",\"Ev\\u0065nt\":\"X\""),
           "malformed_json", "object member \"Event\" appears twice"},
          {"a Message member twice", sample_with("ID", "29", "29,\"ID\":30"), "malformed_json",
           "object member \"ID\" appears twice"},
          {"a 1 MiB name twice",
           "{\"" + std::string(mib / 2 - 8, 'n') + "\":1,\"" + std::string(mib / 2 - 8, 'n') +
               "\":2}",
           "malformed_json", "object member \"nnnn"},
          {"a name with a line break twice", R"({"a\nb":1,"a\nb":2})", "malformed_json",
           R"(object member "a\nb" appears twice)"},
      },
      verify_body);
}

TEST_CASE("bytes that are not UTF-8, NULs and byte order marks are judged exactly") {
  const std::string nul_inside(std::string_view("{\"Event\":\"A\0B\"}", 15));
  check_rows(
      {
          {"a lone 0xff in a string", sample_with("First", "\"FirstName\"", "\"First\xffName\""),
           "malformed_json", "ill-formed UTF-8 byte"},
          {"an overlong '/' (0xc0 0xaf)", sample_with("First", "\"FirstName\"", "\"\xc0\xaf\""),
           "malformed_json", "ill-formed UTF-8 byte"},
          {"an overlong NUL (0xc0 0x80)", sample_with("First", "\"FirstName\"", "\"\xc0\x80\""),
           "malformed_json", "ill-formed UTF-8 byte"},
          {"a surrogate in UTF-8 (0xed 0xa0 0x80)",
           sample_with("First", "\"FirstName\"", "\"\xed\xa0\x80\""), "malformed_json",
           "ill-formed UTF-8 byte"},
          {"a code point past U+10FFFF",
           sample_with("First", "\"FirstName\"", "\"\xf4\x90\x80\x80\""), "malformed_json",
           "ill-formed UTF-8 byte"},
          {"a lone escaped surrogate", sample_with("First", "\"FirstName\"", R"("\ud800")"),
           "malformed_json", "surrogate"},
          {"0xff outside strings", sample + "\xff", "malformed_json", "body byte"},
          {"a NUL inside a string", nul_inside, "malformed_json", "body byte 11: NUL byte"},
          {"a NUL after the body", sample + std::string(1, '\0'), "malformed_json", "NUL byte"},
          {"an escaped NUL in Event",
           R"({"Event":"A\u0000B","Message":{},"Timestamp":"2024-04-22T16:38:54Z"})",
           "unknown_event", R"(/Event: "A\u0000B" is not a portal event)"},
          {"a byte order mark before the body", "\xef\xbb\xbf" + sample, "ok", ""},
          {"a byte order mark after the first byte", "{\xef\xbb\xbf" + sample.substr(1),
           "malformed_json", "body byte 1"},
          {"two byte order marks", "\xef\xbb\xbf\xef\xbb\xbf" + sample, "malformed_json",
           "body byte"},
      },
      verify_body);
}

TEST_CASE("hostile capture files are malformed_request with a short message") {
  check_rows(
      {
          {"a capture file with an invalid byte in a 1 MiB string",
           "{\"tykhook_capture\": 1, \"method\": \"" + std::string(mib, 'P') + "\xff\"}",
           "malformed_request", "hostile.http: not valid JSON"},
          {"a HAR file 100 000 levels deep", "{\"log\":" + std::string(100000, '['),
           "malformed_request", "JSON nests deeper than 64 levels"},
          {"a capture file with a number of 10 000 digits",
           "{\"tykhook_capture\": 1" + std::string(10000, '0') + "}", "malformed_request",
           "not valid JSON"},
          {"a NUL before the request line", std::string(1, '\0') + raw(sample), "malformed_request",
           R"(hostile.http:1: request line "\x00POST /hook HTTP/1.1" has no valid method)"},
          {"a byte order mark before a raw request", "\xef\xbb\xbf" + raw(sample), "ok", ""},
      },
      verify_capture);
}
