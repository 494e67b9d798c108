#pragma once

// The rules of a body's JSON that go beyond RFC 8259, written once for both parsers: the slow
// path (nlohmann, envelope.cpp) and the fast path (simdjson, fast_check.cpp), which must take
// and refuse the same bodies (tests/fast_check_test.cpp).

#include <array>
#include <cstddef>
#include <string_view>
#include <unordered_set>

#include "tykhook/envelope.h"

namespace tykhook::detail {

/// True when an array or object at `depth` (the body's own value is at 1) nests too deep: 64
/// levels pass and 65 are malformed_json (DESIGN.md, "Sizes").
constexpr bool too_deep(std::size_t depth) { return depth > max_json_depth; }

/// The names of one object's members so far. Go's encoding/json never writes a name twice in one
/// object, and parsers disagree on which of two equal names wins, so a repeated name, compared
/// after unescaping, is malformed_json wherever it is. `Name` owns the text (std::string) or
/// views the parser's (std::string_view).
template <class Name>
class MemberNames {
 public:
  /// Adds `name`; returns false when the object has a member of that name already.
  bool add(std::string_view name) {
    if (count_ < few) {
      for (std::size_t i = 0; i < count_; ++i) {
        if (few_[i] == name) return false;
      }
      few_[count_++] = Name(name);
      return true;
    }
    if (many_.empty()) many_.insert(few_.begin(), few_.end());
    return many_.emplace(name).second;
  }

 private:
  // The portal's objects have a few members each: those are compared in place, without
  // allocating.
  static constexpr std::size_t few = 16;
  std::array<Name, few> few_;
  std::size_t count_ = 0;
  std::unordered_set<Name> many_;
};

/// The members of a delivery's body that make its envelope (DESIGN.md: a JSON object
/// {"Event": string, "Message": object, "Timestamp": RFC 3339 string}).
///@{
inline constexpr std::string_view event_member = "Event";
inline constexpr std::string_view message_member = "Message";
inline constexpr std::string_view timestamp_member = "Timestamp";
///@}

}  // namespace tykhook::detail
