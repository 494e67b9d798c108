#include "suggest.h"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <vector>

namespace tykhook::cli {
namespace {

char folded(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

// The optimal string alignment distance between a and b, ignoring case: the edits of
// Levenshtein's distance plus a swap of two neighbouring characters, the commonest typo.
std::size_t edits_between(std::string_view a, std::string_view b) {
  const std::size_t columns = b.size() + 1;
  std::vector<std::size_t> before(columns), previous(columns), current(columns);
  for (std::size_t j = 0; j < columns; ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j < columns; ++j) {
      const bool same = folded(a[i - 1]) == folded(b[j - 1]);
      current[j] =
          std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (same ? 0 : 1)});
      if (i > 1 && j > 1 && folded(a[i - 1]) == folded(b[j - 2]) &&
          folded(a[i - 2]) == folded(b[j - 1])) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
    }
    before.swap(previous);
    previous.swap(current);
  }
  return previous[b.size()];
}

}  // namespace

std::optional<std::string> nearest(std::string_view word, const std::vector<std::string>& choices) {
  // Words of any length are compared, but a long one cannot be a typo of a short choice: the
  // bound follows the word, so "x" suggests nothing and "verfy" suggests "verify".
  const std::size_t bound = std::clamp<std::size_t>(word.size() / 3, 1, 3);
  std::optional<std::string> best;
  std::size_t best_edits = bound + 1;
  bool tied = false;
  for (const std::string& choice : choices) {
    const std::size_t edits = edits_between(word, choice);
    if (edits < best_edits) {
      best = choice;
      best_edits = edits;
      tied = false;
    } else if (edits == best_edits && best && *best != choice) {
      tied = true;
    }
  }
  if (tied) return std::nullopt;
  return best;
}

}  // namespace tykhook::cli
