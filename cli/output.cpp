#include "output.h"

#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <span>
#include <string_view>

#include "hex.h"
#include "json_text.h"

namespace tykhook::cli {

std::string loggable(std::string_view text, std::size_t limit, bool spaces) {
  std::string out;
  for (const char c : text.substr(0, limit)) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte > 0x20 && byte < 0x7f && c != '\\') || (spaces && c == ' ')) {
      out += c;
    } else {
      out += "\\x";
      out += detail::to_hex(std::span(&byte, 1));
    }
  }
  if (text.size() > limit) out += "...";
  return out;
}

std::string time_text(TimePoint time) { return format_rfc3339(time, 3); }

void print_verdict(const std::string& input, const Verdict& verdict, const std::string& format,
                   const std::vector<std::string>& hints,
                   const std::vector<std::string>& fingerprints) {
  const std::string_view kind = to_string(verdict.kind);
  const bool secret = verdict.secret_index && *verdict.secret_index < fingerprints.size();
  if (format == "json" && verdict.errors.empty() && hints.empty() &&
      detail::plain_json_text(input) &&
      (!verdict.event_name || detail::plain_json_text(*verdict.event_name))) {
    // The line of most captures: the same bytes as below, without building a document.
    std::string line = R"({"input":")";
    line.append(input).append(R"(","ok":)").append(verdict.ok() ? "true" : "false");
    line.append(R"(,"verdict":")").append(kind).append(R"(","event":)");
    if (verdict.event_name) {
      line.append("\"").append(*verdict.event_name).append("\"");
    } else {
      line.append("null");
    }
    line.append(",\"errors\":[]");
    if (secret) {
      line.append(R"(,"secret":{"index":)").append(std::to_string(*verdict.secret_index));
      line.append(R"(,"fingerprint":")").append(fingerprints[*verdict.secret_index]).append("\"}");
    }
    line.append("}\n");
    std::cout << line;
    return;
  }
  if (format == "json") {
    nlohmann::ordered_json line;
    line["input"] = input;
    line["ok"] = verdict.ok();
    line["verdict"] = kind;
    line["event"] = verdict.event_name ? nlohmann::ordered_json(*verdict.event_name) : nullptr;
    line["errors"] = verdict.errors;
    if (!hints.empty()) line["hints"] = hints;
    if (secret) {
      line["secret"] = {{"index", *verdict.secret_index},
                        {"fingerprint", fingerprints[*verdict.secret_index]}};
    }
    // Messages may quote bytes of a broken capture: replace invalid UTF-8 rather than throw.
    std::cout << line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
              << '\n';
    return;
  }
  std::cout << input << ": " << kind;
  if (verdict.event_name) std::cout << " (" << *verdict.event_name << ")";
  for (std::size_t i = 0; i < verdict.errors.size(); ++i) {
    std::cout << (i == 0 ? ": " : "\n  ") << verdict.errors[i];
  }
  for (const auto& hint : hints) std::cout << "\n  hint: " << hint;
  std::cout << '\n';
}

void print_unreadable(const std::string& input, const std::string& error,
                      const std::string& format) {
  if (format != "json") return;
  nlohmann::ordered_json line;
  line["input"] = input;
  line["ok"] = false;
  line["verdict"] = nullptr;
  line["event"] = nullptr;
  line["errors"] = {error};
  std::cout << line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
}

bool print_exact(std::string_view bytes) {
  std::cout.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  // Only a person at a terminal sees where the output ends; a program reading a pipe gets
  // the bytes that were signed, and a newline there would change the body.
  if (!bytes.empty() && bytes.back() != '\n' && ::isatty(STDOUT_FILENO) == 1) std::cout << '\n';
  std::cout.flush();
  return static_cast<bool>(std::cout);
}

}  // namespace tykhook::cli
