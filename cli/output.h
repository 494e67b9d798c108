#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "tykhook/timestamp.h"
#include "tykhook/verifier.h"

namespace tykhook::cli {

/// `text` for a log line: visible ASCII kept, anything else (spaces too, unless `spaces`) as
/// \xHH, at most `limit` bytes; a client cannot forge or break a line.
[[nodiscard]] std::string loggable(std::string_view text, std::size_t limit, bool spaces = false);

/// The time of a log line in UTC with milliseconds, at a fixed width so that lines align.
[[nodiscard]] std::string time_text(TimePoint time);

/// Prints one verdict on standard output in the format of `tykhook verify` (DESIGN.md, "CLI
/// contract"): `text` is "INPUT: verdict (Event): error" with further errors, then each of
/// `hints` as "hint: ...", indented below; `json` one object per line {input, ok, verdict,
/// event, errors}, with "hints" after errors when there are any, and for an authentic delivery
/// "secret": {index, fingerprint} when `fingerprints` (by secret index) are given.
void print_verdict(const std::string& input, const Verdict& verdict, const std::string& format,
                   const std::vector<std::string>& hints = {},
                   const std::vector<std::string>& fingerprints = {});

/// Prints, for an input that could not be read, what print_verdict prints for a verdict: in
/// `json` an object with `"verdict": null` and the error, so that a script sees every input;
/// in `text` nothing (the error goes to standard error, with the command's name).
void print_unreadable(const std::string& input, const std::string& error,
                      const std::string& format);

/// Writes `bytes` to standard output exactly as they are, and flushes. At a terminal only, a
/// final newline follows when `bytes` do not end with one, so that the prompt starts a line of
/// its own; in a pipe or a file the bytes stay exact (a body is signed as it is). Returns
/// whether the write succeeded.
[[nodiscard]] bool print_exact(std::string_view bytes);

}  // namespace tykhook::cli
