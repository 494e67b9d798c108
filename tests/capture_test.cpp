#include "tykhook/capture.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "tykhook/request.h"
#include "tykhook/timestamp.h"

namespace {

using namespace std::string_literals;
using tykhook::Capture;
using tykhook::Header;
using tykhook::Parsed;
using tykhook::read_captures;
using tykhook::Request;
using tykhook::TimePoint;
using tykhook::write_json_capture;
using tykhook::write_raw_capture;

constexpr std::string_view body_json = R"({"Event":"UserRegistered","Message":{"ID":1}})";

// Reads `text` as one capture named `input`.
Parsed<Request> read_one(std::string_view text, std::string_view input = "hook.http") {
  auto captures = read_captures(text, input);
  REQUIRE(captures.size() == 1);
  CHECK(captures[0].input == input);
  return std::move(captures[0].request);
}

// Every byte value, NUL and CR among them.
std::string all_bytes() {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  return bytes;
}

// A tykhook JSON capture with `members` after the marker, for malformed-capture rows.
std::string json_capture(std::string_view members) {
  return R"({"tykhook_capture": 1, )" + std::string(members) + "}";
}

constexpr std::string_view good_members =
    R"("method": "POST", "target": "/hook", "headers": [["Host", "h"]], "body_base64": "e30=")";

// A HAR file with the given entries (JSON text of the array's elements).
std::string har(std::string_view entries) {
  return R"({"log": {"version": "1.2", "creator": {"name": "t", "version": "1"}, "entries": [)" +
         std::string(entries) + "]}}";
}

std::string har_entry(std::string_view request) {
  return R"({"startedDateTime": "2024-04-24T15:26:04Z", "request": )" + std::string(request) + "}";
}

TEST_CASE("raw HTTP requests are read with their method, target, headers and exact body") {
  const std::string body(body_json);
  const auto length = std::to_string(body.size());
  const struct {
    std::string_view name;
    std::string text;
    std::string_view method;
    std::string_view target;
    std::string body;
    std::size_t headers;
  } cases[] = {
      {"CRLF line ends",
       "POST /hook HTTP/1.1\r\nHost: h\r\nContent-Length: " + length + "\r\n\r\n" + body, "POST",
       "/hook", body, 2},
      {"bare LF line ends",
       "POST /hook HTTP/1.1\nHost: h\nContent-Length: " + length + "\n\n" + body, "POST", "/hook",
       body, 2},
      {"mixed line ends",
       "PUT /a?b=c HTTP/1.1\nHost: h\r\nContent-Length: " + length + "\n\r\n" + body, "PUT",
       "/a?b=c", body, 2},
      {"body to the end of input without framing headers",
       "POST / HTTP/1.1\r\nHost: h\r\n\r\n" + body, "POST", "/", body, 1},
      {"bytes after the Content-Length body are ignored",
       "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}GET / HTTP/1.1\r\n\r\n", "POST", "/", "{}",
       1},
      {"an empty body with Content-Length 0", "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n{}",
       "POST", "/", "", 1},
      {"a chunked body of several chunks",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"Eve\r\n3\r\nnt\"\r\n1\r\n:"
       "\r\n0\r\n\r\n",
       "POST", "/", "{\"Event\":", 1},
      {"chunk extensions and trailers are ignored",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2;name=value\r\n{}\r\n1 ; "
       "a=\"b\";c\r\n "
       "\r\n0;last\r\nX-Trailer: t\r\nX-Other: u\r\n\r\nignored",
       "POST", "/", "{} ", 1},
      {"upper-case hex chunk sizes and bare LF in a chunked body",
       "POST / HTTP/1.1\nTransfer-Encoding: chunked\n\n0A\n0123456789\n0\n\n", "POST", "/",
       "0123456789", 1},
      {"chunk data that holds CR and LF",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\na\r\nb\r\n0\r\n\r\n", "POST", "/",
       "a\r\nb", 1},
      {"NUL, CR and non-UTF-8 bytes in the body",
       "POST / HTTP/1.1\r\nContent-Length: 256\r\n\r\n" + all_bytes(), "POST", "/", all_bytes(), 1},
      {"header names in any case", "POST / HTTP/1.1\r\ncontent-LENGTH: 2\r\n\r\n{}xx", "POST", "/",
       "{}", 1},
      {"transfer-encoding in any case",
       "POST / HTTP/1.1\r\ntransfer-encoding: CHUNKED\r\n\r\n2\r\n{}\r\n0\r\n\r\n", "POST", "/",
       "{}", 1},
      {"identical duplicate Content-Length headers",
       "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}", "POST", "/", "{}", 2},
      {"leading empty lines before the request line", "\r\n\nGET /x HTTP/1.0\r\n\r\n", "GET", "/x",
       "", 0},
      {"an input that ends after the headers without an empty line", "GET /x HTTP/1.1\nHost: h",
       "GET", "/x", "", 1},
      {"an input that is only a request line", "HEAD / HTTP/1.1", "HEAD", "/", "", 0},
      {"an absolute-form target", "POST http://h/hook HTTP/1.1\r\n\r\n{}", "POST", "http://h/hook",
       "{}", 0},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto request = read_one(c.text);
    CHECK(request.error == "");
    if (!request) continue;
    CHECK(request->method == c.method);
    CHECK(request->target == c.target);
    CHECK(request->body == c.body);
    CHECK(request->headers.size() == c.headers);
  }
}

TEST_CASE("raw header names keep their case and values lose their optional white space") {
  const auto request =
      read_one("POST / HTTP/1.1\r\nX-Signature-SHA256: \t abc \t\r\nx-custom:v\r\nEmpty:\r\n\r\n");
  REQUIRE(request);
  REQUIRE(request->headers.size() == 3);
  CHECK(request->headers[0].name == "X-Signature-SHA256");
  CHECK(request->headers[0].value == "abc");
  CHECK(request->headers[1].name == "x-custom");
  CHECK(request->headers[1].value == "v");
  CHECK(request->headers[2].value == "");
  CHECK(request->header_values("x-signature-sha256") == std::vector<std::string_view>{"abc"});
}

TEST_CASE("malformed raw HTTP requests are errors that name the line and the problem") {
  const struct {
    std::string_view name;
    std::string text;
    std::string_view where;
    std::string_view words;
  } cases[] = {
      {"a body shorter than its Content-Length",
       "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n{}",
       "hook.http:3: ", "body has 2 bytes but Content-Length is 10"},
      {"Content-Length together with chunked",
       "POST / HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: "
       "chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
       "hook.http:3: ", "request smuggling"},
      {"chunked before Content-Length",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n{}",
       "hook.http:3: ", "request smuggling"},
      {"a non-numeric Content-Length", "POST / HTTP/1.1\r\nContent-Length: ten\r\n\r\n{}",
       "hook.http:2: ", "Content-Length \"ten\" is not a decimal number"},
      {"a negative Content-Length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n{}",
       "hook.http:2: ", "is not a decimal number"},
      {"a Content-Length list", "POST / HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\n{}",
       "hook.http:2: ", "is not a decimal number"},
      {"an empty Content-Length", "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n{}",
       "hook.http:2: ", "is not a decimal number"},
      {"a Content-Length that overflows 64 bits",
       "POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n{}",
       "hook.http:2: ", "overflows 64 bits"},
      {"conflicting Content-Length headers",
       "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x",
       "hook.http:3: ", "Content-Length 3 conflicts with an earlier Content-Length 2"},
      {"a chunk size that overflows 64 bits",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nx\r\n0\r\n\r\n",
       "hook.http:4: ", "overflows 64 bits"},
      {"a truncated chunk",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n10\r\nabc",
       "hook.http:6: ", "chunk of 16 bytes is cut off after 3 bytes"},
      {"a chunked body without its last chunk",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n",
       "hook.http:6: ", "ends before its last chunk"},
      {"a chunked body without the final empty line",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n",
       "hook.http:7: ", "without the empty line"},
      {"a trailer section cut off",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1",
       "hook.http:5: ", "without the empty line"},
      {"chunk data longer than its size",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}x\r\n0\r\n\r\n",
       "hook.http:5: ", "chunk data is not followed by a line end"},
      {"a chunk size that is not hex",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n0\r\n\r\n",
       "hook.http:4: ", "does not start with a hexadecimal size"},
      {"a negative chunk size",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n0\r\n\r\n",
       "hook.http:4: ", "hexadecimal size"},
      {"a coding other than chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n{}",
       "hook.http:2: ", "Transfer-Encoding \"gzip\" is not supported"},
      {"chunked applied twice",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
       "chunked\r\n\r\n0\r\n\r\n",
       "hook.http:3: ", "expected chunked alone"},
      {"obsolete line folding", "POST / HTTP/1.1\r\nX-A: 1\r\n  2\r\n\r\n",
       "hook.http:3: ", "obsolete line folding"},
      {"a header line without a colon", "POST / HTTP/1.1\r\nHost h\r\n\r\n",
       "hook.http:2: ", "header line \"Host h\" has no colon"},
      {"white space before the colon", "POST / HTTP/1.1\r\nHost : h\r\n\r\n",
       "hook.http:2: ", "header name \"Host \" is not a token"},
      {"a NUL in a header value", "POST / HTTP/1.1\r\nX-A: a\0b\r\n\r\n"s,
       "hook.http:2: ", "has a NUL or a bare CR"},
      {"a bare CR in a header value", "POST / HTTP/1.1\r\nX-A: a\rb\r\n\r\n",
       "hook.http:2: ", "has a NUL or a bare CR"},
      {"a request line without a target", "POST/hook HTTP/1.1\r\n\r\n", "hook.http:1: ",
       "request line \"POST/hook HTTP/1.1\" has no target; expected \"METHOD TARGET HTTP/1.1\""},
      {"a request line without a version", "POST /hook\r\n\r\n",
       "hook.http:1: ", "has no HTTP version"},
      {"a request line with four words", "POST /a b HTTP/1.1\r\n\r\n",
       "hook.http:1: ", "has more than three words"},
      {"HTTP/2", "POST / HTTP/2.0\r\n\r\n",
       "hook.http:1: ", "HTTP version \"HTTP/2.0\" is not supported"},
      {"a method that is not a token", "P(ST / HTTP/1.1\r\n\r\n",
       "hook.http:1: ", "has no valid method"},
      {"a request line after blank lines", "\n\nPOST /hook\n\n",
       "hook.http:3: ", "has no HTTP version"},
      {"a header line of 1 MiB",
       "POST / HTTP/1.1\r\nX-Big: " + std::string(1 << 20, 'a') + "\r\n\r\n",
       "hook.http:2: ", "line is longer than 8192 bytes"},
      {"a request line of 1 MiB", "POST /" + std::string(1 << 20, 'a') + " HTTP/1.1\r\n\r\n",
       "hook.http:1: ", "line is longer than 8192 bytes"},
      {"a chunk size line of 1 MiB",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;" + std::string(1 << 20, 'a'),
       "hook.http:4: ", "line is longer than 8192 bytes"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto request = read_one(c.text);
    CHECK_FALSE(request.ok());
    CAPTURE(request.error);
    CHECK(request.error.starts_with(c.where));
    CHECK(request.error.find(c.words) != std::string::npos);
  }
}

TEST_CASE("oversized header sections are errors found without reading them whole") {
  std::string many = "POST / HTTP/1.1\r\n";
  for (int i = 0; i < 10000; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  many += "\r\n{}";
  std::string wide = "POST / HTTP/1.1\r\n";
  for (int i = 0; i < 10; ++i)
    wide += "X-H" + std::to_string(i) + ": " + std::string(8000, 'v') + "\r\n";
  wide += "\r\n{}";
  std::string trailers = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
  for (int i = 0; i < 200; ++i) trailers += "X-T: v\r\n";
  trailers += "\r\n";
  const struct {
    std::string_view name;
    const std::string& text;
    std::string_view where;
    std::string_view words;
  } cases[] = {
      {"10 000 headers stop at the 101st", many, "hook.http:102: ", "more than 100 headers"},
      {"the ninth 8000-byte header passes 64 KiB", wide,
       "hook.http:10: ", "header section is longer"},
      {"200 trailer fields", trailers, "hook.http:105: ", "trailer section is longer"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto started = std::chrono::steady_clock::now();
    const auto request = read_one(c.text);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(1));
    CAPTURE(request.error);
    CHECK(request.error.starts_with(c.where));
    CHECK(request.error.find(c.words) != std::string::npos);
  }
}

TEST_CASE("100 headers are within the limit") {
  std::string text = "POST / HTTP/1.1\r\n";
  for (int i = 0; i < 100; ++i) text += "X-H" + std::to_string(i) + ": v\r\n";
  const auto request = read_one(text + "\r\n{}");
  CHECK(request.error == "");
  CHECK(request.ok());
}

TEST_CASE("input that is no capture is one error saying what was expected") {
  const std::string expected =
      "expected a raw HTTP request, a tykhook JSON capture, a HAR file or a JSON body with "
      "\"Event\"";
  const struct {
    std::string_view name;
    std::string text;
    std::string message;
  } cases[] = {
      {"empty input", "", "hook.txt:1: the input is empty, not a capture; " + expected},
      {"white space only", " \r\n\t\n",
       "hook.txt:3: the input is empty, not a capture; " + expected},
      {"plain text", "hello world\n", "hook.txt:1: not a capture; " + expected},
      {"text after blank lines", "\n\nhello\n", "hook.txt:3: not a capture; " + expected},
      {"a JSON array", R"([{"Event": "UserRegistered"}])",
       "hook.txt:1: not a capture; " + expected},
      {"a JSON object without a known member", R"({"event": "UserRegistered"})",
       R"(hook.txt: not a capture: a JSON object without "tykhook_capture", "log" or "Event"; )" +
           expected},
      {"binary bytes", "\x89PNG\r\n\x1a\n"s + all_bytes(),
       "hook.txt:1: not a capture; " + expected},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto request = read_one(c.text, "hook.txt");
    CHECK(request.error == c.message);
  }
}

TEST_CASE("a tykhook JSON capture reads back as the request that was written") {
  Request original;
  original.method = "PUT";
  original.target = "/hooks/portal?x=1&y=%20";
  original.headers = {{"Host", "example.com"},
                      {"X-Signature-SHA256", "ab12"},
                      {"x-custom", "a \"quoted\" \\ value"},
                      {"X-Custom", "second"},
                      {"Content-Length", "999"}};
  const TimePoint received{std::chrono::nanoseconds(1713972364329072196)};
  const std::string bodies[] = {"", "a", "ab", "abc", "abcd", std::string(body_json), all_bytes()};
  for (const auto& body : bodies) {
    CAPTURE(body.size());
    original.body = body;
    const std::string written = write_json_capture(original, received);
    CHECK(written.find(R"("tykhook_capture": 1)") != std::string::npos);
    CHECK(written.find(R"("received": "2024-04-24T15:26:04.329072196Z")") != std::string::npos);
    const auto request = read_one(written, "capture.json");
    REQUIRE(request.ok());
    CHECK(request->method == original.method);
    CHECK(request->target == original.target);
    REQUIRE(request->headers.size() == original.headers.size());
    for (std::size_t i = 0; i < original.headers.size(); ++i) {
      CAPTURE(i);
      CHECK(request->headers[i].name == original.headers[i].name);
      CHECK(request->headers[i].value == original.headers[i].value);
    }
    CHECK(request->body == original.body);
  }
}

TEST_CASE("a tykhook JSON capture is written in the documented layout") {
  Request request;
  request.method = "POST";
  request.target = "/hook";
  request.headers = {{"Content-Type", "application/json"}};
  request.body = "{}";
  CHECK(write_json_capture(request, TimePoint{std::chrono::seconds(1713972364)}) ==
        "{\n"
        "  \"tykhook_capture\": 1,\n"
        "  \"received\": \"2024-04-24T15:26:04Z\",\n"
        "  \"method\": \"POST\",\n"
        "  \"target\": \"/hook\",\n"
        "  \"headers\": [\n"
        "    [\"Content-Type\", \"application/json\"]\n"
        "  ],\n"
        "  \"body_base64\": \"e30=\"\n"
        "}\n");
  request.headers.clear();
  CHECK(write_json_capture(request, TimePoint{}).find("\"headers\": [],\n") != std::string::npos);
}

TEST_CASE("a tykhook JSON capture carries the time it was received, when it records one") {
  Request original{.method = "POST", .target = "/hook", .headers = {}, .body = "{}"};
  const TimePoint received{std::chrono::nanoseconds(1713972364329072196)};
  const auto written = read_captures(write_json_capture(original, received), "c.json");
  REQUIRE(written.size() == 1);
  CHECK(written[0].request.ok());
  REQUIRE(written[0].received.has_value());
  CHECK(tykhook::format_rfc3339(*written[0].received) == "2024-04-24T15:26:04.329072196Z");

  const struct {
    std::string_view name;
    std::string members;
    std::string_view want;  // the time read, in UTC; "" for none
  } cases[] = {
      {"UTC", R"(, "received": "2024-04-24T15:26:04Z")", "2024-04-24T15:26:04Z"},
      {"an offset", R"(, "received": "2024-04-22T16:38:54.082037+02:00")",
       "2024-04-22T14:38:54.082037Z"},
      {"no received member", "", ""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto captures =
        read_captures(json_capture(std::string(good_members) + c.members), "c.json");
    REQUIRE(captures.size() == 1);
    CHECK(captures[0].request.error == "");
    const std::string got =
        captures[0].received ? tykhook::format_rfc3339(*captures[0].received) : "";
    CHECK(got == c.want);
  }
}

TEST_CASE("raw HTTP and a bare body record no time of arrival") {
  const std::string raw = "POST /hook HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
  for (const std::string& text : {raw, std::string(body_json)}) {
    CAPTURE(text);
    const auto captures = read_captures(text, "c");
    REQUIRE(captures.size() == 1);
    CHECK(captures[0].request.ok());
    CHECK_FALSE(captures[0].received.has_value());
  }
}

TEST_CASE("a JSON capture may start with a byte order mark and white space") {
  const auto request = read_one("\xEF\xBB\xBF\n  " + json_capture(good_members), "c.json");
  CHECK(request.error == "");
  CHECK((request.ok() && request->body == "{}"));
}

TEST_CASE("malformed tykhook JSON captures are errors that name the field") {
  const struct {
    std::string_view name;
    std::string text;
    std::string_view message;
  } cases[] = {
      {"missing method", json_capture(R"("target": "/", "headers": [], "body_base64": "")"),
       "c.json: method: missing; give the HTTP method as a string, e.g. \"POST\""},
      {"a method that is a number",
       json_capture(R"("method": 1, "target": "/", "headers": [], "body_base64": "")"),
       "c.json: method: expected a string, got a number; give the HTTP method as a string, e.g. "
       "\"POST\""},
      {"a method with a space",
       json_capture(R"("method": "PO ST", "target": "/", "headers": [], "body_base64": "")"),
       "c.json: method: \"PO ST\" is not an HTTP method; expected a token, e.g. \"POST\""},
      {"missing target", json_capture(R"("method": "POST", "headers": [], "body_base64": "")"),
       "c.json: target: missing; give the request target, e.g. \"/hook\""},
      {"an empty target",
       json_capture(R"("method": "POST", "target": "", "headers": [], "body_base64": "")"),
       "c.json: target: \"\" is not a request target; expected visible ASCII, e.g. \"/hook\""},
      {"missing headers", json_capture(R"("method": "POST", "target": "/", "body_base64": "")"),
       "c.json: headers: missing; give the headers as [[\"Name\", \"value\"], ...]"},
      {"headers as an object",
       json_capture(R"("method": "POST", "target": "/", "headers": {}, "body_base64": "")"),
       "c.json: headers: expected an array, got an object; give the headers as [[\"Name\", "
       "\"value\"], ...]"},
      {"a header that is not a pair",
       json_capture(
           R"("method": "POST", "target": "/", "headers": [["A", "1"], ["B"]], "body_base64": "")"),
       "c.json: headers[1]: expected a [name, value] pair of strings; give the headers as "
       "[[\"Name\", \"value\"], ...]"},
      {"a header name with a space",
       json_capture(
           R"("method": "POST", "target": "/", "headers": [["A B", "1"]], "body_base64": "")"),
       "c.json: headers[0]: header name \"A B\" is not a token; remove separators"},
      {"a header value with a line feed",
       json_capture(
           R"("method": "POST", "target": "/", "headers": [["A", "1\nB: 2"]], "body_base64": "")"),
       "c.json: headers[0]: header value has a NUL, CR or LF; remove it"},
      {"missing body_base64", json_capture(R"("method": "POST", "target": "/", "headers": [])"),
       "c.json: body_base64: missing; give the body in standard base64, \"\" for an empty body"},
      {"body_base64 with a character outside the alphabet",
       json_capture(R"("method": "POST", "target": "/", "headers": [], "body_base64": "e3!=")"),
       "c.json: body_base64: character 3 \"!\" is not base64; use the standard alphabet A-Z a-z "
       "0-9 + / with = padding at the end only"},
      {"body_base64 without padding",
       json_capture(R"("method": "POST", "target": "/", "headers": [], "body_base64": "e30")"),
       "c.json: body_base64: has 3 characters, not a multiple of 4; use standard base64 with = "
       "padding"},
      {"body_base64 with padding in the middle",
       json_capture(R"("method": "POST", "target": "/", "headers": [], "body_base64": "e3==e30=")"),
       "c.json: body_base64: character 3 \"=\" is not base64; use the standard alphabet A-Z a-z "
       "0-9 + / with = padding at the end only"},
      {"body_base64 with three padding characters",
       json_capture(R"("method": "POST", "target": "/", "headers": [], "body_base64": "e===")"),
       "c.json: body_base64: character 2 \"=\" is not base64; use the standard alphabet A-Z a-z "
       "0-9 + / with = padding at the end only"},
      {"body_base64 with non-zero padding bits",
       json_capture(R"("method": "POST", "target": "/", "headers": [], "body_base64": "QR==")"),
       "c.json: body_base64: the last group \"QR==\" has non-zero padding bits; re-encode the "
       "bytes with a standard base64 encoder"},
      {"body_base64 in the URL-safe alphabet",
       json_capture(R"("method": "POST", "target": "/", "headers": [], "body_base64": "-_-_")"),
       "c.json: body_base64: character 1 \"-\" is not base64; use the standard alphabet A-Z a-z "
       "0-9 + / with = padding at the end only"},
      {"an unsupported version",
       R"({"tykhook_capture": 2, "method": "POST", "target": "/", "headers": [], "body_base64": ""})",
       "c.json: tykhook_capture: version 2 is not supported; this tykhook reads version 1"},
      {"a version that is a string", R"({"tykhook_capture": "1"})",
       "c.json: tykhook_capture: a string is not supported; this tykhook reads version 1"},
      {"a received time that is not RFC 3339",
       json_capture(std::string(good_members) + R"(, "received": 5)"),
       "c.json: received: expected a string, got a number; give an RFC 3339 time, e.g. "
       "\"2024-04-24T15:26:04Z\""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto request = read_one(c.text, "c.json");
    CHECK(request.error == c.message);
  }
}

TEST_CASE("a received time that does not parse is an error for received") {
  const auto captures = read_captures(
      json_capture(std::string(good_members) + R"(, "received": "yesterday")"), "c.json");
  REQUIRE(captures.size() == 1);
  CHECK_FALSE(captures[0].request.ok());
  CHECK(captures[0].request.error.starts_with("c.json: received: "));
  CHECK_FALSE(captures[0].received.has_value());
}

TEST_CASE("a capture file that is not valid JSON is an error, not a bare body") {
  const struct {
    std::string_view name;
    std::string text;
  } cases[] = {
      {"a truncated JSON capture", json_capture(good_members).substr(0, 40)},
      {"a truncated HAR", har("").substr(0, 20)},
      {"a capture with trailing text", json_capture(good_members) + "x"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto request = read_one(c.text, "c.json");
    CHECK_FALSE(request.ok());
    CAPTURE(request.error);
    CHECK(request.error.starts_with("c.json: "));
    CHECK(request.error.find("fix the JSON of the capture file") != std::string::npos);
  }
}

TEST_CASE("a JSON body with Event is a bare POST with the exact input bytes as its body") {
  const struct {
    std::string_view name;
    std::string text;
  } cases[] = {
      {"the portal's compact body", std::string(body_json)},
      {"a trailing newline is kept", std::string(body_json) + "\n"},
      {"a byte order mark and leading white space are kept",
       "\xEF\xBB\xBF \n" + std::string(body_json)},
      {"Event of any type", R"({"Event": null})"},
      {"Event next to a log member", R"({"log": {"entries": []}, "Event": "X"})"},
      {"invalid JSON that starts with a brace", R"({"Event": "UserRegistered", )"},
      {"invalid UTF-8 in a string", "{\"Event\": \"\xff\"}"},
      {"nesting deeper than 64 levels",
       "{\"Event\": " + std::string(100, '[') + std::string(100, ']') + "}"},
      {"a NUL byte after the object", std::string(body_json) + "\0"s},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto request = read_one(c.text, "body.json");
    CHECK(request.error == "");
    if (!request) continue;
    CHECK(request->method == "POST");
    CHECK(request->target == "/");
    CHECK(request->headers.empty());
    CHECK(request->body == c.text);
  }
}

TEST_CASE("HAR entries are read as one capture each, named PATH#N") {
  const std::string text =
      har(har_entry(R"({"method": "POST", "url": "https://h.example:8443/hooks/tyk?a=1#frag",
                    "httpVersion": "HTTP/1.1",
                    "headers": [{"name": "Content-Type", "value": "application/json"},
                                {"name": ":authority", "value": "h.example"},
                                {"name": "X-Signature-SHA256", "value": "ab"}],
                    "postData": {"mimeType": "application/json",
                                 "text": "eyJFdmVudCI6IlgifQA=", "encoding": "base64"}})") +
          "," + har_entry(R"({"method": "GET", "url": "http://h.example", "headers": []})") + "," +
          har_entry(R"({"method": "PUT", "url": "http://h?q=1", "headers": [],
                    "postData": {"mimeType": "application/json", "text": "{\"Event\":\"Y\"}"}})"));
  const auto captures = read_captures(text, "hooks.har");
  REQUIRE(captures.size() == 3);
  const struct {
    std::string_view input;
    std::string_view method;
    std::string_view target;
    std::string body;
    std::size_t headers;
  } want[] = {
      {"hooks.har#0", "POST", "/hooks/tyk?a=1", "{\"Event\":\"X\"}\0"s, 2},
      {"hooks.har#1", "GET", "/", "", 0},
      {"hooks.har#2", "PUT", "/?q=1", R"({"Event":"Y"})", 0},
  };
  for (std::size_t i = 0; i < captures.size(); ++i) {
    CAPTURE(i);
    CHECK(captures[i].input == want[i].input);
    CHECK(captures[i].request.error == "");
    if (!captures[i].request) continue;
    CHECK(captures[i].request->method == want[i].method);
    CHECK(captures[i].request->target == want[i].target);
    CHECK(captures[i].request->body == want[i].body);
    CHECK(captures[i].request->headers.size() == want[i].headers);
  }
  CHECK(captures[0].request->header_values("x-signature-sha256") ==
        std::vector<std::string_view>{"ab"});
}

TEST_CASE("a HAR entry is received at its startedDateTime, when that is an RFC 3339 time") {
  const std::string request = R"("request": {"method": "POST", "url": "http://h/", "headers": []})";
  const struct {
    std::string_view name;
    std::string entry;
    std::string_view want;  // the time read, in UTC; "" for none
  } cases[] = {
      {"milliseconds in UTC", R"({"startedDateTime": "2024-04-24T15:26:04.329Z", )" + request + "}",
       "2024-04-24T15:26:04.329Z"},
      {"an offset", R"({"startedDateTime": "2024-04-24T17:26:04+02:00", )" + request + "}",
       "2024-04-24T15:26:04Z"},
      {"no startedDateTime", "{" + request + "}", ""},
      {"a startedDateTime that is a number", R"({"startedDateTime": 5, )" + request + "}", ""},
      {"an ISO 8601 time that is not RFC 3339",
       R"({"startedDateTime": "2024-04-24T17:26:04+0200", )" + request + "}", ""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto captures = read_captures(har(c.entry), "h.har");
    REQUIRE(captures.size() == 1);
    // The request is read either way: its verdict does not depend on the time.
    CHECK(captures[0].request.error == "");
    const std::string got =
        captures[0].received ? tykhook::format_rfc3339(*captures[0].received) : "";
    CHECK(got == c.want);
  }
}

TEST_CASE("a bad HAR entry is an error for that entry only") {
  const std::string good = har_entry(R"({"method": "POST", "url": "http://h/", "headers": []})");
  const struct {
    std::string_view name;
    std::string entry;
    std::string_view message;
  } cases[] = {
      {"no request", R"({"response": {}})",
       "h.har#1: log.entries[1].request: missing; each entry needs its request"},
      {"an entry that is not an object", "42",
       "h.har#1: log.entries[1]: expected an object, got a number; each entry is an object"},
      {"no method", har_entry(R"({"url": "http://h/", "headers": []})"),
       "h.har#1: log.entries[1].request.method: missing; give the HTTP method as a string, e.g. "
       "\"POST\""},
      {"no url", har_entry(R"({"method": "POST", "headers": []})"),
       "h.har#1: log.entries[1].request.url: missing; give the request's URL"},
      {"a relative url", har_entry(R"({"method": "POST", "url": "hooks", "headers": []})"),
       "h.har#1: log.entries[1].request.url: \"hooks\" is not an absolute URL; expected e.g. "
       "\"https://host/hook\""},
      {"a url with a space",
       har_entry(R"({"method": "POST", "url": "http://h/a b", "headers": []})"),
       "h.har#1: log.entries[1].request.url: \"/a b\" is not a request target; expected visible "
       "ASCII, e.g. \"/hook\""},
      {"no headers", har_entry(R"({"method": "POST", "url": "http://h/"})"),
       "h.har#1: log.entries[1].request.headers: missing; give the headers as [{\"name\": ..., "
       "\"value\": ...}, ...]"},
      {"a header without a value",
       har_entry(R"({"method": "POST", "url": "http://h/", "headers": [{"name": "A"}]})"),
       "h.har#1: log.entries[1].request.headers[0].value: missing; give the headers as "
       "[{\"name\": ..., \"value\": ...}, ...]"},
      {"postData without text",
       har_entry(
           R"({"method": "POST", "url": "http://h/", "headers": [], "postData": {"params": []}})"),
       "h.har#1: log.entries[1].request.postData.text: missing; give the body as a string"},
      {"postData with bad base64",
       har_entry(R"({"method": "POST", "url": "http://h/", "headers": [],
                     "postData": {"text": "e30", "encoding": "base64"}})"),
       "h.har#1: log.entries[1].request.postData.text: has 3 characters, not a multiple of 4; use "
       "standard base64 with = padding"},
      {"postData with an unknown encoding",
       har_entry(R"({"method": "POST", "url": "http://h/", "headers": [],
                     "postData": {"text": "{}", "encoding": "gzip"}})"),
       "h.har#1: log.entries[1].request.postData.encoding: \"gzip\" is not supported; expected "
       "\"base64\" or no encoding"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto captures = read_captures(har(good + "," + c.entry), "h.har");
    REQUIRE(captures.size() == 2);
    CHECK(captures[0].input == "h.har#0");
    CHECK(captures[0].request.ok());
    CHECK(captures[1].input == "h.har#1");
    CHECK(captures[1].request.error == c.message);
  }
}

TEST_CASE("a HAR file without entries is one error for the whole file") {
  const struct {
    std::string_view name;
    std::string text;
    std::string_view message;
  } cases[] = {
      {"zero entries", har(""),
       "h.har: log.entries: no entries; export a HAR file with at least one request"},
      {"no entries member", R"({"log": {"version": "1.2"}})",
       "h.har: log.entries: missing; a HAR file lists its requests in log.entries"},
      {"entries that are not an array", R"({"log": {"entries": {}}})",
       "h.har: log.entries: expected an array, got an object; a HAR file lists its requests in "
       "log.entries"},
      {"a log that is not an object", R"({"log": []})",
       "h.har: log: expected an object, got an array; a HAR file holds {\"log\": {\"entries\": "
       "[...]}}"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto request = read_one(c.text, "h.har");
    CHECK(request.error == c.message);
  }
}

TEST_CASE("a raw capture is written with one correct Content-Length and reads back the same") {
  Request original;
  original.method = "POST";
  original.target = "/hook?a=1";
  original.headers = {{"Host", "h"},
                      {"Transfer-Encoding", "chunked"},
                      {"content-length", "999"},
                      {"X-Signature-SHA256", "ab"}};
  original.body = all_bytes();
  const std::string written = write_raw_capture(original);
  CHECK(
      written.starts_with("POST /hook?a=1 HTTP/1.1\r\nHost: h\r\nX-Signature-SHA256: "
                          "ab\r\nContent-Length: 256\r\n\r\n"));
  const auto request = read_one(written);
  REQUIRE(request.ok());
  CHECK(request->method == original.method);
  CHECK(request->target == original.target);
  CHECK(request->body == original.body);
  CHECK(request->header_values("Content-Length") == std::vector<std::string_view>{"256"});
  CHECK(request->header_values("Transfer-Encoding").empty());
}

TEST_CASE("a raw capture keeps each header on one line whatever the values hold") {
  Request request;
  request.headers = {{"X-A", "1\r\nX-Injected: 2"}};
  request.body = "{}";
  const auto read = read_one(write_raw_capture(request));
  REQUIRE(read.ok());
  CHECK(read->header_values("X-Injected").empty());
  CHECK(read->header_values("X-A") == std::vector<std::string_view>{"1  X-Injected: 2"});
}

}  // namespace

TEST_CASE("a broken capture file's message quotes at most 40 bytes, escaped (fuzz: capture)") {
  // tests/fuzz/regressions/capture/invalid-utf8-in-har-name.har: the JSON parser's message
  // quoted what it had read, raw; an invalid byte made the message invalid UTF-8.
  const auto invalid = read_one("{\"log\": {\"tex\xa9\": 1}}", "c.har");
  CHECK_FALSE(invalid.ok());
  CAPTURE(invalid.error);
  CHECK(invalid.error.find("last read: '\"tex\\xa9'") != std::string::npos);
  const auto long_string =
      read_one(json_capture(R"("method": ")" + std::string(1 << 20, 'P') + "\xff\"}"), "c.json");
  CHECK_FALSE(long_string.ok());
  CAPTURE(long_string.error.substr(0, 300));
  CHECK(long_string.error.find("PPPP...'") != std::string::npos);
  CHECK(long_string.error.size() < 300);
}
