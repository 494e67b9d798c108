#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tykhook::cli {

/// The choice that `word` most likely meant: one equal to it but for case, else the one
/// fewest edits away (insertions, deletions, substitutions, swaps of neighbours; case counts
/// for nothing), when that is at most a third of the word's length (at least 1, at most 3).
/// Returns nothing when no choice is that close, or when two are equally close.
[[nodiscard]] std::optional<std::string> nearest(std::string_view word,
                                                 const std::vector<std::string>& choices);

}  // namespace tykhook::cli
