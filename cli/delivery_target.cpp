#include "delivery_options.h"
#include "header_option.h"
#include "tykhook/forward.h"
#include "tykhook/targets.h"
#include "tykhook/timestamp.h"

namespace tykhook::cli {

std::shared_ptr<Target> make_target(const DeliveryOptions& options,
                                    std::vector<std::string> hidden) {
  if (!options.forward_to.empty()) {
    ForwardOptions forward{.url = options.forward_to,
                           .timeout = *parse_duration(options.forward_timeout),
                           .ca_file = options.cacert};
    for (const auto& header : options.forward_headers) {
      forward.headers.push_back(*parse_header_option(header));  // checked when parsed
    }
    return forward_target(std::move(forward));
  }
  // The store's password is no business of the command's either.
  hidden.push_back("TYKHOOK_REDIS_PASSWORD");
  return exec_target({.command = options.exec,
                      .timeout = *parse_duration(options.exec_timeout),
                      .hidden_environment = std::move(hidden)});
}

}  // namespace tykhook::cli
