#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "tykhook/targets.h"

using namespace tykhook;

TEST_CASE("a command line splits into words as a shell would, and nothing is expanded") {
  using Words = std::vector<std::string>;
  const struct {
    std::string_view name;
    std::string_view command;
    Words want;
  } cases[] = {
      {"one word", "./app", {"./app"}},
      {"blanks of any kind separate", " sh\t-c \n x ", {"sh", "-c", "x"}},
      {"single quotes are literal",
       R"(sh -c 'echo "$HOME" \n')",
       {"sh", "-c", R"(echo "$HOME" \n)"}},
      {"double quotes keep blanks", R"(printf "%s  %s" a)", {"printf", "%s  %s", "a"}},
      {"escapes inside double quotes", R"(a "\" \\ \$ \`")", {"a", R"(" \ $ `)"}},
      {"other backslashes in double quotes stay", R"(a "\n\x")", {"a", R"(\n\x)"}},
      {"a backslash outside quotes keeps the next byte", R"(a\ b \'c\")", {"a b", R"('c")"}},
      {"quoted parts join the word around them", R"(x'a b'"c d"e)", {"xa bc de"}},
      {"empty quotes are an empty word", R"(a '' "")", {"a", "", ""}},
      {"a backslash before a newline joins lines", "a\\\nb", {"ab"}},
      {"no expansion of any kind",
       "echo $(touch x) `id` ~ * $HOME;rm",
       {"echo", "$(touch", "x)", "`id`", "~", "*", "$HOME;rm"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(split_command(c.command) == c.want);
  }
}

TEST_CASE("a command line that cannot be split names what is wrong and how to fix it") {
  const struct {
    std::string_view name;
    std::string_view command;
    std::string_view want;
  } cases[] = {
      {"empty", "", "no command to run; give a program"},
      {"only blanks", " \t\n", "no command to run"},
      {"unclosed single quote", "sh -c 'echo",
       "the single quote at byte 7 is not closed; close it"},
      {"unclosed double quote", R"(sh -c "echo)", "the double quote at byte 7 is not closed"},
      {"an escaped closing quote", R"(a "b\")", "the double quote at byte 3 is not closed"},
      {"a final backslash", "a \\", "ends with a backslash that escapes nothing"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    try {
      (void)split_command(c.command);
      FAIL("no error");
    } catch (const Error& e) {
      const std::string what = e.what();
      CAPTURE(what);
      CHECK(what.starts_with("--exec \""));
      CHECK(what.find(c.want) != std::string::npos);
    }
  }
}
