#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "tykhook/worker.h"

namespace tykhook::cli {

/// The options that hand deliveries on (DESIGN.md, "Handing deliveries on"): the target, and
/// when to try again. `listen` and `work` share them.
struct DeliveryOptions {
  std::string forward_to;                    ///< --forward-to URL
  std::vector<std::string> forward_headers;  ///< --forward-header "NAME: VALUE"
  std::string forward_timeout = "10s";
  std::string cacert;  ///< --cacert FILE
  std::string exec;    ///< --exec COMMAND
  std::string exec_timeout = "60s";
  std::string retry_base = "1s";
  std::string retry_cap = "1h";
  unsigned max_attempts = 100;
  std::string max_age = "72h";
  std::size_t concurrency = 8;

  /// True when a target is given.
  [[nodiscard]] bool has_target() const { return !forward_to.empty() || !exec.empty(); }
};

/// Adds --forward-to, --forward-header, --forward-timeout, --cacert, --exec, --exec-timeout,
/// --retry-base, --retry-cap, --max-attempts, --max-age and --concurrency to `command`.
void add_delivery_options(CLI::App& command, DeliveryOptions& options);

/// The retry policy the options name (their values were checked when parsed).
[[nodiscard]] RetryPolicy retry_policy(const DeliveryOptions& options);

/// The target the options name; throws tykhook::Error for a bad URL, CA file or command.
/// `hidden` names environment variables that --exec commands do not inherit. Defined in the
/// network program (it links the HTTP client).
[[nodiscard]] std::shared_ptr<Target> make_target(const DeliveryOptions& options,
                                                  std::vector<std::string> hidden);

/// The worker options for `options`, `target` and `store`; the lease outlasts the target's
/// own timeout.
[[nodiscard]] WorkerOptions worker_options(const DeliveryOptions& options,
                                           std::shared_ptr<Target> target,
                                           std::shared_ptr<Store> store);

}  // namespace tykhook::cli
