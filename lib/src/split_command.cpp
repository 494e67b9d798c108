#include <string>
#include <string_view>
#include <vector>

#include "tykhook/targets.h"

namespace tykhook {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n'; }

// The command as an option names it, for errors: `--exec "sh -c 'x"`.
std::string where(std::string_view command) {
  return "--exec \"" + std::string(command.substr(0, 200)) + "\": ";
}

}  // namespace

// POSIX, Shell Command Language 2.2 (quoting) and 2.6.7 (quote removal), without 2.6's
// expansions: no word the command line names is ever looked at again.
std::vector<std::string> split_command(std::string_view command) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;  // a word has started, even if it is still empty ('')
  std::size_t i = 0;
  const auto unclosed = [&](char quote, std::size_t at) {
    const std::string name = quote == '\'' ? "single" : "double";
    return Error(where(command) + "the " + name + " quote at byte " + std::to_string(at + 1) +
                 " is not closed; close it, e.g. --exec \"sh -c 'echo done'\"");
  };
  while (i < command.size()) {
    const char c = command[i];
    if (is_blank(c)) {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      ++i;
      continue;
    }
    in_word = true;
    if (c == '\\') {
      if (i + 1 == command.size()) {
        throw Error(where(command) +
                    "ends with a backslash that escapes nothing; remove it or quote it as '\\'");
      }
      // A backslash before a newline joins the lines; before anything else it keeps that byte.
      if (command[i + 1] != '\n') word += command[i + 1];
      i += 2;
    } else if (c == '\'') {
      const auto close = command.find('\'', i + 1);
      if (close == std::string_view::npos) throw unclosed(c, i);
      word.append(command.substr(i + 1, close - i - 1));
      i = close + 1;
    } else if (c == '"') {
      const std::size_t open = i++;
      for (;;) {
        if (i == command.size()) throw unclosed(c, open);
        const char d = command[i];
        if (d == '"') break;
        // Inside double quotes a backslash escapes only these; before any other byte it stays.
        if (d == '\\' && i + 1 < command.size() &&
            std::string_view("\"\\$`\n").find(command[i + 1]) != std::string_view::npos) {
          if (command[i + 1] != '\n') word += command[i + 1];
          i += 2;
          continue;
        }
        word += d;
        ++i;
      }
      ++i;  // the closing quote
    } else {
      word += c;
      ++i;
    }
  }
  if (in_word) words.push_back(std::move(word));
  if (words.empty()) {
    throw Error(where(command) +
                "no command to run; give a program and its arguments, e.g. --exec ./deliver.sh");
  }
  return words;
}

}  // namespace tykhook
