#include "delivery_options.h"

#include <algorithm>

#include "commands.h"
#include "header_option.h"
#include "tykhook/timestamp.h"

namespace tykhook::cli {
namespace {

std::chrono::milliseconds duration_of(const std::string& text) { return *parse_duration(text); }

CLI::Validator header_check() {
  return CLI::Validator(
      [](const std::string& text) {
        return parse_header_option(text) ? std::string() : header_option_error(text);
      },
      "");
}

}  // namespace

void add_delivery_options(CLI::App& command, DeliveryOptions& options) {
  auto* forward =
      command
          .add_option("--forward-to", options.forward_to,
                      "Hand each ok delivery on to this URL (http or https), with its exact body "
                      "and the portal's signature; retried until it answers 2xx")
          ->type_name("URL")
          ->group("Handing deliveries on");
  auto* exec = command
                   .add_option("--exec", options.exec,
                               "Hand each ok delivery on to this command (no shell; the body on "
                               "its standard input), e.g. \"./app --import\"; exit 0 is done, "
                               "75 tries again")
                   ->type_name("COMMAND")
                   ->group("Handing deliveries on");
  forward->excludes(exec);
  exec->excludes(forward);
  command
      .add_option("--forward-header", options.forward_headers,
                  "Add this header to every forwarded request, e.g. \"Authorization: Bearer T\" "
                  "(repeatable)")
      ->type_name("\"NAME: VALUE\"")
      ->check(header_check())
      ->group("Handing deliveries on");
  command
      .add_option("--forward-timeout", options.forward_timeout,
                  "How long the application may take to answer, e.g. 10s")
      ->type_name("DURATION")
      ->check(duration_check())
      ->capture_default_str()
      ->group("Handing deliveries on");
  command
      .add_option("--cacert", options.cacert,
                  "Trust the certificates in this PEM file for an https --forward-to")
      ->type_name("FILE")
      ->group("Handing deliveries on");
  command
      .add_option("--exec-timeout", options.exec_timeout,
                  "Kill an --exec command that runs longer, e.g. 60s (then try again)")
      ->type_name("DURATION")
      ->check(duration_check())
      ->capture_default_str()
      ->group("Handing deliveries on");
  command
      .add_option("--retry-base", options.retry_base,
                  "Longest wait before the second attempt; it doubles with each failure")
      ->type_name("DURATION")
      ->check(duration_check())
      ->capture_default_str()
      ->group("Handing deliveries on");
  command.add_option("--retry-cap", options.retry_cap, "Longest wait between two attempts")
      ->type_name("DURATION")
      ->check(duration_check())
      ->capture_default_str()
      ->group("Handing deliveries on");
  command
      .add_option("--max-attempts", options.max_attempts,
                  "Give up (dead) after this many attempts, 1 to 10000")
      ->type_name("N")
      ->check(CLI::Range(1, 10'000).description(""))
      ->capture_default_str()
      ->group("Handing deliveries on");
  command
      .add_option("--max-age", options.max_age,
                  "Give up (dead) when the next attempt would come later than this after arrival")
      ->type_name("DURATION")
      ->check(duration_check())
      ->capture_default_str()
      ->group("Handing deliveries on");
  command.add_option("--concurrency", options.concurrency, "Attempts at once, 1 to 256")
      ->type_name("N")
      ->check(CLI::Range(1, 256).description(""))
      ->capture_default_str()
      ->group("Handing deliveries on");
}

RetryPolicy retry_policy(const DeliveryOptions& options) {
  return {.base = duration_of(options.retry_base),
          .cap = duration_of(options.retry_cap),
          .max_attempts = options.max_attempts,
          .max_age = duration_of(options.max_age)};
}

WorkerOptions worker_options(const DeliveryOptions& options, std::shared_ptr<Target> target,
                             std::shared_ptr<Store> store) {
  WorkerOptions worker;
  worker.store = std::move(store);
  worker.target = std::move(target);
  worker.retry = retry_policy(options);
  worker.concurrency = options.concurrency;
  // An attempt ends by the target's own timeout; the lease must outlast it, or a slow attempt
  // that is still running would be taken again by another worker.
  const auto timeout =
      duration_of(options.exec.empty() ? options.forward_timeout : options.exec_timeout);
  worker.lease = timeout + std::max(timeout, std::chrono::milliseconds(5'000));
  return worker;
}

}  // namespace tykhook::cli
