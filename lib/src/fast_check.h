#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "tykhook/envelope.h"
#include "tykhook/events.h"

namespace tykhook {

class SchemaRegistry;

namespace detail {

/// The verifier's fast path for the checks after authentication: it parses a body once with
/// simdjson and checks Message with a plan compiled from each event's schema document. It
/// answers with the envelope of a body that passes every check, or declines
/// on any failure or doubt; the verifier builds the Verdict either way, and check_body() decides
/// and words whatever is declined. Thread-safe (each thread has its own parser).
class FastChecker {
 public:
  /// Plans from the schema documents in `schemas` (nullptr: no schema stage), which must outlive
  /// the checker. An event's plan is compiled by its first body. An event whose schema uses a
  /// keyword the plan does not know gets no plan, and its bodies always decline.
  FastChecker(const SchemaRegistry* schemas, bool allow_unknown_events);
  ~FastChecker();
  /// Moves the plans; the moved-from object may only be assigned to or destroyed.
  ///@{
  FastChecker(FastChecker&&) noexcept;
  FastChecker& operator=(FastChecker&&) noexcept;
  ///@}

  /// Returns the envelope of `body` when check_body(body, schemas, allow_unknown_events) is ok
  /// (equal to that verdict's envelope; its message null unless `keep_message`), or nullopt when
  /// the fast path declines (the same bodies either way). Never throws.
  [[nodiscard]] std::optional<Envelope> check(std::string_view body,
                                              bool keep_message = true) const;

  /// True when bodies of `event` can pass the fast path: no schema stage, or a plan was
  /// compiled from its schema (compiling it now if no body has). Never throws.
  [[nodiscard]] bool planned(Event event) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace detail
}  // namespace tykhook
