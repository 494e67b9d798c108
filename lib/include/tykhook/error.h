#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace tykhook {

/// Thrown for bad configuration at setup (a bad store URI, an unreadable secret file) and for
/// failures of the environment that a delivery did not cause (disk full, Redis gone).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The result of a parser below the verifier: a value, or one human-readable error message
/// in the form "<where>: <what>; <how to fix>".
template <class T>
struct Parsed {
  std::optional<T> value;  ///< the result; nullopt on failure
  std::string error;       ///< why it failed; empty with a value

  /// Makes a failed result carrying `message`.
  static Parsed failure(std::string message) { return Parsed{std::nullopt, std::move(message)}; }
  /// True when a value is present.
  bool ok() const { return value.has_value(); }
  /// True when a value is present.
  explicit operator bool() const { return ok(); }
  /// The value; only valid when ok().
  ///@{
  const T& operator*() const& { return *value; }
  T& operator*() & { return *value; }
  T&& operator*() && { return std::move(*value); }
  ///@}
  /// The value's members; only valid when ok().
  ///@{
  const T* operator->() const { return &*value; }
  T* operator->() { return &*value; }
  ///@}
};

}  // namespace tykhook
