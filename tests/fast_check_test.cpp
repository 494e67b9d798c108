#include "fast_check.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/files.h"
#include "tykhook/envelope.h"
#include "tykhook/schema.h"
#include "tykhook/signature.h"
#include "tykhook/verifier.h"

using namespace tykhook;
using nlohmann::json;
using nlohmann::ordered_json;
namespace fs = std::filesystem;
using tykhook::test::TempDir;

namespace {

// The same JSON value with the same types all the way down: nlohmann's == calls the integer 0
// equal to the unsigned 0 and -0.0 equal to 0.0, which the envelope must not differ in either.
bool identical(const json& a, const json& b) {
  if (a.type() != b.type() || a != b) return false;
  if (a.is_number_float()) return std::signbit(a.get<double>()) == std::signbit(b.get<double>());
  if (a.is_object()) {
    for (auto left = a.begin(), right = b.begin(); left != a.end(); ++left, ++right) {
      if (left.key() != right.key() || !identical(*left, *right)) return false;
    }
  }
  if (a.is_array()) {
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!identical(a[i], b[i])) return false;
    }
  }
  return true;
}

// How often each path answered, over the bodies that one test case tried.
struct Tally {
  int bodies = 0;
  int fast_ok = 0;
  int slow_ok = 0;
};

// Says how the fast path and check_body() differ on `body`, or "" when they agree: the fast
// path declined, or it read the body and check_body() answered ok with an identical envelope.
// The verdict built from what the fast path reads is compared with check_body's in the test
// "verify gives check_body's verdict and messages for every mutated delivery".
std::string disagreement(const detail::FastChecker& fast, std::string_view body,
                         const SchemaRegistry* schemas, bool allow_unknown_events, Tally& tally) {
  const Verdict slow = check_body(body, schemas, allow_unknown_events);
  const std::optional<Envelope> quick = fast.check(body);
  ++tally.bodies;
  tally.slow_ok += slow.ok() ? 1 : 0;
  // Without keeping Message, the fast path takes and declines the same bodies.
  const std::optional<Envelope> lean = fast.check(body, false);
  if (lean.has_value() != quick.has_value()) return "keeping Message or not decides differently";
  if (lean && !lean->message.is_null()) return "a Message kept when not asked to";
  if (!quick) return "";
  ++tally.fast_ok;
  if (!slow.ok()) {
    return "fast ok, slow " + std::string(to_string(slow.kind)) + ": " +
           (slow.errors.empty() ? "" : slow.errors.front());
  }
  if (quick->event != slow.event) return "event differs";
  if (!slow.envelope) return "envelope missing";
  const Envelope& a = *quick;
  const Envelope& b = *slow.envelope;
  if (a.event != b.event || a.event_name != b.event_name) return "envelope event differs";
  if (a.timestamp_text != b.timestamp_text) return "timestamp_text differs";
  if (a.timestamp != b.timestamp) return "timestamp differs";
  if (!identical(a.message, b.message)) {
    return "message differs: fast " + a.message.dump() + " slow " + b.message.dump();
  }
  return "";
}

// True when the fast path took at least 90% of the bodies that check_body() passed: a fast
// path that declined all but a few would agree with check_body() as well, and be no use.
bool takes_the_common_case(const Tally& tally) { return tally.fast_ok * 10 >= tally.slow_ok * 9; }

std::string shown(std::string_view body) {
  return json(std::string(body.substr(0, 300))).dump(-1, ' ', true, json::error_handler_t::replace);
}

// Runs disagreement() over `bodies`, one CHECK each.
void check_all(const detail::FastChecker& fast, const std::vector<std::string>& bodies,
               const SchemaRegistry* schemas, bool allow_unknown_events, Tally& tally) {
  for (const std::string& body : bodies) {
    const std::string differs = disagreement(fast, body, schemas, allow_unknown_events, tally);
    if (!differs.empty()) {
      CAPTURE(shown(body));
      CHECK(differs == "");
    }
  }
}

std::vector<std::string> sample_bodies() {
  std::vector<std::string> bodies;
  for (const Event event : all_events()) {
    if (const auto body = sample_body(event)) bodies.emplace_back(*body);
  }
  return bodies;
}

// Stands for a raw JSON text in a dumped document: dump, then replace_placeholder().
const std::string placeholder = "@@fast-check-raw@@";

std::string replace_placeholder(std::string text, std::string_view raw,
                                const std::string& mark = placeholder) {
  const std::string quoted = "\"" + mark + "\"";
  const auto at = text.find(quoted);
  if (at != std::string::npos) text.replace(at, quoted.size(), raw);
  return text;
}

// Values of every JSON type, and the edges of numbers, strings, times and encodings, as raw
// JSON text (some of them are not JSON at all).
std::vector<std::string> raw_values() {
  // clang-format off: one row per kind of value reads better than one value per line
  std::vector<std::string> values = {
      "null", "true", "false", "0", "-0", "1", "-1", "29", "-0.0", "0.0", "1.5", "-1.5", "1e3",
      "1E-3", "1.0", "-0e1", "9007199254740993", "9223372036854775807", "9223372036854775808",
      "-9223372036854775808", "-9223372036854775809", "18446744073709551615",
      "18446744073709551616", "1e308", "1e309", "-1e-400", "4.9e-324", "01", "1.", ".5", "+1",
      "--1", "0x10", "NaN", "Infinity",
      // 10 000 digits
      std::string(10000, '9'), std::string("0.").append(9999, '1'),
      std::string("-").append(10000, '1'), std::string("1e").append(9999, '0').append("1"),
      // strings
      R"("")", R"("x")", R"("active")", R"("inactive")", R"("pending")", R"("approved")",
      R"("rejected")", R"("Active")", R"("active ")", R"("\u0061ctive")",
      R"("2024-04-22T16:38:54Z")", R"("2024-04-22T16:38:54.082037+02:00")",
      R"("2024-04-22T16:38:54.329072196Z")", R"("0001-01-01T00:00:00Z")",
      R"("9999-12-31T23:59:59.999999999Z")", R"("2024-04-22t16:38:54z")",
      R"("2024-04-22T16:38:60Z")", R"("2024-04-22T24:00:00Z")", R"("2024-02-30T00:00:00Z")",
      R"("2024-04-22T16:38:54.Z")", R"("2024-04-22T16:38:54.1234567890Z")",
      R"("2024-04-22T16:38:54+0200")", R"("2024-04-22 16:38:54Z")", R"("2024-04-22")",
      R"("2024-04-22T16:38:54\u002b02:00")", R"("\u003cb\u003e \u0026 \u2028")", R"("\u00e9")",
      R"("\ud83d\ude00")", R"("\ud800")", R"("\udc00")", R"("\ud800\u0041")", R"("\u0000")",
      R"("a\"b\\c\/d\b\f\n\r\t")", R"("\x")", R"("\u12")", "\"\xc3\xa9\"", "\"\xff\"",
      "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xe2\x82\"", "\"\xf4\x90\x80\x80\"",
      std::string("\"a\0b\"", 5), "\"a\tb\"", "\"a\nb\"", "\"\x7f\"", "\"\x1f\"", R"("a)",
      R"("-0")", R"("x -0 y")",
      // containers
      "[]", "[1]", R"(["x"])", R"([1,"x",null,true,{}])", "[0,-0]", "[-0]", "[1,]", "[", "{}",
      R"({"a":1})", R"({"a":1,"a":2})", R"({"a":{"b":1,"b":1}})", R"({"\u0061":1,"a":2})",
      R"({"a":[{"b":1},{"b":1,"b":2}]})", R"([{"Identifier":"x","Value":"y"}])",
      R"([{"Identifier":"x"}])", R"([{"Identifier":"x","Value":1}])",
      R"([{"Identifier":"x","Value":"y","Value":"z"}])", R"({"a":1,})", R"({"a"})",
      R"({"a":1 "b":2})", "tru", "nul", "true false"};
  // clang-format on
  return values;
}

// Every place in `doc` that holds a value, as JSON pointers (the root excluded).
void pointers_in(const ordered_json& doc, const std::string& at, std::vector<std::string>& out) {
  if (doc.is_object()) {
    for (const auto& [key, value] : doc.items()) {
      const std::string here = at + "/" + key;  // the samples' names hold no '/' or '~'
      out.push_back(here);
      pointers_in(value, here, out);
    }
  } else if (doc.is_array()) {
    for (std::size_t i = 0; i < doc.size(); ++i) {
      const std::string here = at + "/" + std::to_string(i);
      out.push_back(here);
      pointers_in(doc[i], here, out);
    }
  }
}

// `name` with every byte written as a \u escape: the same name to a JSON parser.
std::string escaped_name(const std::string& name) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string escaped;
  for (const unsigned char c : name) {
    escaped += "\\u00";
    escaped += digits[c >> 4];
    escaped += digits[c & 15];
  }
  return escaped;
}

// Systematic mutations of one body: each member removed, each value replaced by each raw
// value, a member added to each object, names repeated (plainly and escaped) in each object,
// names escaped, and the whole body framed, cut and wrapped in other ways.
std::vector<std::string> mutations_of(const std::string& body) {
  std::vector<std::string> bodies;
  const ordered_json doc = ordered_json::parse(body);
  const std::vector<std::string> values = raw_values();
  std::vector<std::string> pointers;
  pointers_in(doc, "", pointers);
  for (const std::string& pointer : pointers) {
    const ordered_json::json_pointer at(pointer);
    // removed
    {
      ordered_json edited = doc;
      ordered_json& parent = edited[at.parent_pointer()];
      if (parent.is_object()) {
        parent.erase(at.back());
      } else {
        parent.erase(static_cast<std::size_t>(std::stoul(at.back())));
      }
      bodies.push_back(edited.dump());
    }
    // replaced by every raw value
    for (const std::string& raw : values) {
      ordered_json edited = doc;
      edited[at] = placeholder;
      bodies.push_back(replace_placeholder(edited.dump(), raw));
    }
    const ordered_json& value = doc[at];
    if (!value.is_object()) continue;
    // a member added, of every raw value
    for (const std::string& raw : values) {
      ordered_json edited = doc;
      edited[at]["Extra"] = placeholder;
      bodies.push_back(replace_placeholder(edited.dump(), raw));
    }
    if (value.empty()) continue;
    const std::string first = value.begin().key();
    const std::string dumped = value.dump();
    for (const std::string& name : {json(first).dump(), "\"" + escaped_name(first) + "\""}) {
      // the first name repeated, with its own value and with null
      for (const std::string& repeated :
           {name + ":" + value.begin().value().dump() + ",", name + ":null,"}) {
        ordered_json edited = doc;
        edited[at] = placeholder;
        bodies.push_back(replace_placeholder(edited.dump(), "{" + repeated + dumped.substr(1)));
      }
    }
    // the first name escaped: the same document
    {
      ordered_json edited = doc;
      edited[at] = placeholder;
      std::string renamed = dumped;
      renamed.replace(1, json(first).dump().size(), "\"" + escaped_name(first) + "\"");
      bodies.push_back(replace_placeholder(edited.dump(), renamed));
    }
  }
  // Event, with every name of the catalogue and some that are not
  for (const Event event : all_events()) {
    for (const std::string_view name : {to_string(event), alias_of(event).value_or("Nope")}) {
      ordered_json edited = doc;
      edited["Event"] = name;
      bodies.push_back(edited.dump());
    }
  }
  for (const std::string_view raw :
       {R"("userregistered")", R"("UserRegistered ")", R"("")", R"("U\u0073erRegistered")"}) {
    ordered_json edited = doc;
    edited["Event"] = placeholder;
    bodies.push_back(replace_placeholder(edited.dump(), raw));
  }
  // framing: white space, BOM, NUL, trailing bytes, pretty-printing, other roots
  bodies.push_back(" \t\r\n" + body + " \t\r\n");
  bodies.push_back("\v" + body);
  bodies.push_back(body + "\f");
  bodies.push_back("\xEF\xBB\xBF" + body);
  bodies.push_back(body + std::string(1, '\0'));
  bodies.push_back(std::string(1, '\0') + body);
  bodies.push_back(body + "x");
  bodies.push_back(body + ",");
  bodies.push_back(body + body);
  bodies.push_back(doc.dump(2));
  bodies.push_back(doc.dump(1, '\t'));
  bodies.push_back("[" + body + "]");
  bodies.push_back(json(body).dump());
  // every prefix
  for (std::size_t length = 0; length < body.size(); ++length) {
    bodies.push_back(body.substr(0, length));
  }
  return bodies;
}

// How the innermost levels of body_of_depth() look.
enum class Nesting { empty_arrays, arrays_around_number, objects_around_number, empty_object };
constexpr Nesting all_nestings[] = {Nesting::empty_arrays, Nesting::arrays_around_number,
                                    Nesting::objects_around_number, Nesting::empty_object};

// A body whose arrays and objects nest exactly `depth` levels (the body and Message are two).
std::string body_of_depth(std::size_t depth, Nesting nesting) {
  const std::size_t levels = depth - 2;
  std::string deep;
  switch (nesting) {
    case Nesting::empty_arrays:
      deep = std::string(levels, '[') + std::string(levels, ']');
      break;
    case Nesting::arrays_around_number:
      deep = std::string(levels, '[') + "1" + std::string(levels, ']');
      break;
    case Nesting::objects_around_number:
      for (std::size_t i = 0; i < levels; ++i) deep += R"({"a":)";
      deep += "1" + std::string(levels, '}');
      break;
    case Nesting::empty_object:
      for (std::size_t i = 1; i < levels; ++i) deep += R"({"a":)";
      deep += "{}" + std::string(levels - 1, '}');
      break;
  }
  return R"({"Event":"RegisterInvite","Message":{"Deep":)" + deep +
         R"(},"Timestamp":"2024-04-22T16:38:54Z"})";
}

// A registry of the embedded schemas, with UserRegistered's replaced by `user_registered`.
std::shared_ptr<const SchemaRegistry> registry_with(const std::string& user_registered) {
  const TempDir dir;
  for (const Event event : all_events()) {
    std::ofstream out(dir.path() / (std::string(to_string(event)) + ".schema.json"),
                      std::ios::binary);
    out << (event == Event::UserRegistered ? std::string_view(user_registered)
                                           : SchemaRegistry::embedded_text(event));
  }
  return SchemaRegistry::from_directory(dir.path());
}

// Applies one to three random byte edits, biased towards JSON's own characters.
std::string randomly_mutated(std::string body, std::mt19937& random) {
  // clang-format off: as in raw_values()
  static const std::vector<std::string> tokens = {"{",
                                                  "}",
                                                  "[",
                                                  "]",
                                                  ":",
                                                  ",",
                                                  "\"",
                                                  "\\",
                                                  "0",
                                                  "-0",
                                                  "1e5",
                                                  "-",
                                                  ".",
                                                  "e",
                                                  "null",
                                                  "true",
                                                  " ",
                                                  "\t",
                                                  "\n",
                                                  std::string(1, '\0'),
                                                  "\xff",
                                                  "\xc3\xa9",
                                                  "\\u0000",
                                                  "\\u003c",
                                                  "\\ud800",
                                                  "\"Event\":\"UserRegistered\",",
                                                  "\"Message\":{},",
                                                  "\"ID\":1,",
                                                  "\"ID\":-0,",
                                                  "{}",
                                                  "[]",
                                                  "\"2024-04-22T16:38:54Z\"",
                                                  "\"0001-01-01T00:00:00Z\"",
                                                  "9223372036854775808"};
  // clang-format on
  const auto pick = [&random](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n == 0 ? 0 : n - 1)(random);
  };
  const std::size_t edits = 1 + pick(3);
  for (std::size_t e = 0; e < edits && !body.empty(); ++e) {
    const std::size_t at = pick(body.size());
    switch (pick(5)) {
      case 0:  // replace a byte
        body[at] = tokens[pick(tokens.size())].front();
        break;
      case 1:  // insert a token
        body.insert(at, tokens[pick(tokens.size())]);
        break;
      case 2:  // delete a span
        body.erase(at, 1 + pick(8));
        break;
      case 3: {  // copy a span elsewhere
        const std::string span = body.substr(pick(body.size()), 1 + pick(24));
        body.insert(at, span);
        break;
      }
      default:  // flip a bit
        body[at] = static_cast<char>(body[at] ^ (1 << pick(8)));
        break;
    }
  }
  return body;
}

// A random JSON text: mostly one of raw_values(), otherwise an array or an object of them (with
// names drawn from a few, so that some repeat).
std::string random_value(std::mt19937& random, int depth) {
  static const std::vector<std::string> values = raw_values();
  static const std::vector<std::string> names = {
      R"("a")", R"("b")", R"("ID")", R"("\u0049D")", R"("Value")", R"("Identifier")", R"("")"};
  const auto pick = [&random](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(random);
  };
  const std::size_t kind = pick(10);
  if (depth > 2 || kind < 6) return values[pick(values.size())];
  const bool object = kind >= 8;
  std::string text = object ? "{" : "[";
  for (std::size_t i = 0, count = pick(4); i < count; ++i) {
    if (i > 0) text += ",";
    if (object) text += names[pick(names.size())] + ":";
    text += random_value(random, depth + 1);
  }
  return text + (object ? "}" : "]");
}

// Replaces one to three random values of `body` (a JSON document) with random_value()s, or adds
// one to an object.
std::string structurally_mutated(const std::string& body, std::mt19937& random) {
  const auto pick = [&random](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(random);
  };
  ordered_json doc = ordered_json::parse(body);
  std::vector<std::string> pointers;
  pointers_in(doc, "", pointers);
  std::vector<std::string> raws;
  for (std::size_t edit = 0, edits = 1 + pick(3); edit < edits; ++edit) {
    const ordered_json::json_pointer at(pointers[pick(pointers.size())]);
    if (!doc.contains(at)) continue;  // inside a value replaced before
    const std::string mark = placeholder + std::to_string(raws.size());
    if (doc[at].is_object() && pick(3) == 0) {
      doc[at]["Extra" + std::to_string(edit)] = mark;
    } else {
      doc[at] = mark;
    }
    raws.push_back(random_value(random, 0));
  }
  std::string text = doc.dump();
  for (std::size_t i = 0; i < raws.size(); ++i) {
    text = replace_placeholder(std::move(text), raws[i], placeholder + std::to_string(i));
  }
  return text;
}

}  // namespace

TEST_CASE("the fast path accepts every documented sample, with and without schemas") {
  const auto schemas = SchemaRegistry::embedded();
  for (const auto& [registry, allow] :
       {std::pair{schemas.get(), false}, std::pair{schemas.get(), true},
        std::pair<const SchemaRegistry*, bool>{nullptr, false}}) {
    const detail::FastChecker fast(registry, allow);
    for (const std::string& body : sample_bodies()) {
      CAPTURE(body);
      const auto quick = fast.check(body);
      REQUIRE(quick.has_value());
      CHECK(to_string(check_body(body, registry, allow).kind) == "ok");
      Tally tally;
      CHECK(disagreement(fast, body, registry, allow, tally) == "");
    }
  }
}

TEST_CASE("every embedded schema compiles into a plan") {
  const auto schemas = SchemaRegistry::embedded();
  const detail::FastChecker fast(schemas.get(), false);
  for (const Event event : all_events()) {
    CAPTURE(std::string(to_string(event)));
    CHECK(fast.planned(event));
  }
}

TEST_CASE("the fast path declines or agrees with check_body on systematic mutations") {
  const auto schemas = SchemaRegistry::embedded();
  const detail::FastChecker strict(schemas.get(), false);
  const detail::FastChecker lenient(schemas.get(), true);
  const detail::FastChecker schemaless(nullptr, false);
  Tally tally;
  for (const std::string& sample : sample_bodies()) {
    const std::vector<std::string> bodies = mutations_of(sample);
    check_all(strict, bodies, schemas.get(), false, tally);
    check_all(lenient, bodies, schemas.get(), true, tally);
    check_all(schemaless, bodies, nullptr, false, tally);
  }
  MESSAGE("systematic: " << tally.bodies << " checks, fast ok " << tally.fast_ok << ", slow ok "
                         << tally.slow_ok);
  CHECK(tally.bodies > 50000);
  CHECK(tally.fast_ok > 1000);  // it does not merely decline everything
  CHECK(takes_the_common_case(tally));
}

TEST_CASE("the fast path declines or agrees with check_body on seeded random mutations") {
  const auto schemas = SchemaRegistry::embedded();
  const detail::FastChecker strict(schemas.get(), false);
  const detail::FastChecker lenient(schemas.get(), true);
  const std::vector<std::string> samples = sample_bodies();
  std::mt19937 random(20240422);
  Tally tally;
  for (int i = 0; i < 8000; ++i) {
    // Even cases edit values (mostly valid JSON, to exercise the plans), odd ones edit bytes.
    const std::string& sample = samples[static_cast<std::size_t>(i / 2) % samples.size()];
    std::string body = i % 2 == 0 ? structurally_mutated(sample, random) : sample;
    for (int round = 0; i % 2 != 0 && round <= i % 3; ++round) {
      body = randomly_mutated(body, random);
    }
    const bool allow_unknown_events = i % 4 >= 2;
    const auto& fast = allow_unknown_events ? lenient : strict;
    const std::string differs =
        disagreement(fast, body, schemas.get(), allow_unknown_events, tally);
    if (!differs.empty()) {
      CAPTURE(i);
      CAPTURE(shown(body));
      CHECK(differs == "");
    }
  }
  MESSAGE("random: " << tally.bodies << " bodies, fast ok " << tally.fast_ok << ", slow ok "
                     << tally.slow_ok);
  CHECK(tally.fast_ok > 100);
  CHECK(takes_the_common_case(tally));
}

TEST_CASE("nesting of 64 levels takes the fast path and 65 levels is left to check_body") {
  const auto schemas = SchemaRegistry::embedded();
  const detail::FastChecker fast(schemas.get(), false);
  for (const Nesting nesting : all_nestings) {
    CAPTURE(static_cast<int>(nesting));
    for (const std::size_t depth : {3, 4, 63, 64}) {
      CAPTURE(depth);
      CHECK(fast.check(body_of_depth(depth, nesting)).has_value());
      CHECK(to_string(check_body(body_of_depth(depth, nesting), schemas.get(), false).kind) ==
            "ok");
    }
    for (const std::size_t depth : {65, 66, 200}) {
      CAPTURE(depth);
      CHECK_FALSE(fast.check(body_of_depth(depth, nesting)).has_value());
      CHECK(to_string(check_body(body_of_depth(depth, nesting), schemas.get(), false).kind) ==
            "malformed_json");
    }
  }
  // The same depths outside Message, in a member of the body's own.
  for (const std::size_t depth : {64, 65}) {
    const std::size_t levels = depth - 1;
    const std::string body = R"({"Event":"RegisterInvite","Other":)" + std::string(levels, '[') +
                             "1" + std::string(levels, ']') +
                             R"(,"Message":{},"Timestamp":"2024-04-22T16:38:54Z"})";
    CAPTURE(depth);
    CHECK(fast.check(body).has_value() == (depth == 64));
    CHECK(to_string(check_body(body, schemas.get(), false).kind) ==
          (depth == 64 ? "ok" : "malformed_json"));
  }
  // A body larger than any before makes the parser grow; the limit stays 64.
  const std::string padding(40000, 'x');
  const std::string big_ok = R"({"Event":"RegisterInvite","Message":{"Pad":")" + padding +
                             R"(","Deep":)" + std::string(62, '[') + std::string(62, ']') +
                             R"(},"Timestamp":"2024-04-22T16:38:54Z"})";
  const std::string big_deep = R"({"Event":"RegisterInvite","Message":{"Pad":")" + padding +
                               R"(","Deep":)" + std::string(63, '[') + std::string(63, ']') +
                               R"(},"Timestamp":"2024-04-22T16:38:54Z"})";
  CHECK(fast.check(big_ok).has_value());
  CHECK_FALSE(fast.check(big_deep).has_value());
  for (const Nesting nesting : all_nestings) {
    CHECK_FALSE(fast.check(body_of_depth(65, nesting)).has_value());
    CHECK(fast.check(body_of_depth(64, nesting)).has_value());
  }
}

TEST_CASE("threads that check at the same time each use a parser of their own") {
  const auto schemas = SchemaRegistry::embedded();
  const detail::FastChecker fast(schemas.get(), false);
  const std::vector<std::string> samples = sample_bodies();
  const std::string too_deep = body_of_depth(65, Nesting::arrays_around_number);
  constexpr int threads_count = 4;
  constexpr int rounds = 300;
  std::atomic<int> agreed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < threads_count; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < rounds; ++i) {
        const std::string& body = samples[static_cast<std::size_t>(i + t) % samples.size()];
        const auto quick = fast.check(body);
        const bool declined_deep = !fast.check(too_deep).has_value();
        if (declined_deep && quick &&
            identical(quick->message, parse_envelope(body).envelope->message)) {
          ++agreed;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(agreed.load() == threads_count * rounds);
}

TEST_CASE("bodies over 64 KiB are left to check_body") {
  const auto schemas = SchemaRegistry::embedded();
  const detail::FastChecker fast(schemas.get(), false);
  const std::string huge = R"({"Event":"RegisterInvite","Message":{"Pad":")" +
                           std::string(70000, 'x') + R"("},"Timestamp":"2024-04-22T16:38:54Z"})";
  CHECK_FALSE(fast.check(huge).has_value());
  CHECK(to_string(check_body(huge, schemas.get(), false).kind) == "ok");
}

TEST_CASE("the fast path runs every keyword it plans as the schema stage does") {
  const std::string schema = R"({
    "$schema": "http://json-schema.org/draft-07/schema#", "$id": "urn:x", "title": "t",
    "description": "d", "$comment": "c", "definitions": {"unused": {"type": "string"}},
    "type": "object", "required": ["A", "B", "Z"],
    "properties": {
      "A": {"type": ["integer", "null"], "minimum": -5},
      "B": {"type": "number", "minimum": 1.5},
      "C": {"type": "array", "items": {"type": "object", "required": ["T"],
            "properties": {"T": {"type": "string", "format": "date-time"}},
            "additionalProperties": true}},
      "D": {"type": "boolean"},
      "E": {"enum": ["x", "y"]},
      "F": {"format": "date-time"},
      "G": true,
      "H": {"type": "array", "items": {"type": "integer", "minimum": 0}},
      "I": {"type": "object", "properties": {"J": {"type": "object", "required": ["K"]}}},
      "L": {"type": "string", "default": "d", "examples": ["e"], "readOnly": false},
      "M": {"type": ["string", "array", "object", "boolean"]},
      "N": {}
    },
    "additionalProperties": true})";
  const auto schemas = registry_with(schema);
  const detail::FastChecker fast(schemas.get(), false);
  CHECK(fast.planned(Event::UserRegistered));
  const std::string body =
      R"({"Event":"UserRegistered","Message":{"A":-5,"B":1.5,"C":[{"T":"2024-04-22T16:38:54Z"}],)"
      R"("D":true,"E":"x","F":"0001-01-01T00:00:00Z","G":[1],"H":[0,1],"I":{"J":{"K":null}},)"
      R"("L":"s","M":"m","N":null,"Z":1},"Timestamp":"2024-04-22T16:38:54Z"})";
  REQUIRE(fast.check(body).has_value());
  Tally tally;
  check_all(fast, mutations_of(body), schemas.get(), false, tally);
  MESSAGE("custom schema: " << tally.bodies << " bodies, fast ok " << tally.fast_ok << ", slow ok "
                            << tally.slow_ok);
  CHECK(tally.fast_ok > 100);
}

TEST_CASE("a schema with a keyword the plan does not know leaves its event to check_body") {
  const std::string sample(*sample_body(Event::UserRegistered));
  const std::string unplanned[] = {
      R"({"type": "object", "maxProperties": 30})",
      R"({"type": "object", "properties": {"Email": {"type": "string", "pattern": "@"}}})",
      R"({"type": "object", "properties": {"Email": {"type": "string", "format": "email"}}})",
      R"({"type": "object", "properties": {"Email": {"$ref": "#/definitions/e"}},
          "definitions": {"e": {"type": "string"}}})",
      R"({"type": "object", "additionalProperties": false})",
      R"({"type": "object", "additionalProperties": {"type": "string"}})",
      R"({"type": "object", "properties": {"CustomAttributes": {"items": [{"type": "object"}]}}})",
      R"({"type": "object", "properties": {"ID": {"enum": [29, 30]}}})",
      R"({"type": "object", "properties": {"ID": {"minimum": 18446744073709551615}}})",
      R"({"type": "object", "properties": {"ID": {"exclusiveMinimum": 0}}})",
      R"({"type": "object", "properties": {"ID": {"multipleOf": 1}}})",
      R"({"type": "object", "properties": {"ID": false}})",
      R"({"anyOf": [{"type": "object"}]})",
      R"({"allOf": [{"type": "object"}]})",
      R"({"type": "object", "propertyNames": {"maxLength": 40}})",
  };
  for (const std::string& schema : unplanned) {
    CAPTURE(schema);
    const auto schemas = registry_with(schema);
    const detail::FastChecker fast(schemas.get(), false);
    CHECK_FALSE(fast.planned(Event::UserRegistered));
    CHECK_FALSE(fast.check(sample).has_value());
    CHECK(fast.planned(Event::PasswordReset));
  }
}

TEST_CASE("verify gives check_body's verdict and messages for every mutated delivery") {
  const std::string secret = "fast-check-test-secret";
  const auto schemas = SchemaRegistry::embedded();
  const Verifier verifier({.secrets = {Secret(secret)}, .schemas = schemas});
  const TimePoint now = *parse_rfc3339("2024-04-22T16:38:54Z");
  const std::vector<std::string> samples = sample_bodies();
  std::vector<std::string> bodies = mutations_of(samples.front());
  const std::vector<std::string> more = mutations_of(samples.back());
  bodies.insert(bodies.end(), more.begin(), more.end());
  bodies.insert(bodies.end(), samples.begin(), samples.end());
  int compared = 0;
  for (const std::string& body : bodies) {
    const Request request{.headers = {{std::string(signature_header), sign(secret, body)}},
                          .body = body};
    const Verdict verdict = verifier.verify(request, now);
    const Verdict expected = check_body(body, schemas.get(), false);
    ++compared;
    const bool same =
        verdict.kind == expected.kind && verdict.errors == expected.errors &&
        verdict.event == expected.event && verdict.event_name == expected.event_name &&
        verdict.envelope.has_value() == expected.envelope.has_value() &&
        (!verdict.envelope ||
         (identical(verdict.envelope->message, expected.envelope->message) &&
          verdict.envelope->timestamp_text == expected.envelope->timestamp_text &&
          verdict.envelope->timestamp == expected.envelope->timestamp &&
          verdict.envelope->event_name == expected.envelope->event_name)) &&
        verdict.idempotency_key == idempotency_key(body) && verdict.secret_index == 0u;
    if (!same) {
      CAPTURE(shown(body));
      CAPTURE(std::string(to_string(verdict.kind)));
      CAPTURE(std::string(to_string(expected.kind)));
      CHECK(same);
    }
  }
  MESSAGE("verify: " << compared << " deliveries");
}
