// `tykhook work`: hands queued deliveries on without receiving (DESIGN.md, "Handing deliveries
// on"); several workers may share one store.
#include <cstdlib>
#include <memory>
#include <string>

#include "commands.h"
#include "listen_startup.h"
#include "request_log.h"
#include "signals.h"
#include "tykhook/store.h"
#include "tykhook/worker.h"

namespace tykhook::cli {

int run_work(const WorkOptions& options) {
  const StartupLines lines(options.log_format == "json", "work");
  if (!options.delivery.has_target()) {
    lines.error("no target; give --forward-to URL or --exec COMMAND");
    return exit_usage;
  }
  std::shared_ptr<Store> store;
  try {
    store = open_store(options.store);
  } catch (const Error& error) {
    lines.error(std::string("--store: ") + error.what());
    return exit_usage;
  }
  if (!store->has_queue()) {
    lines.error("--store \"" + loggable(options.store, 1000, true) +
                "\": this store holds no delivery queue; give the store that listen uses, e.g. "
                "sqlite:tykhook.db");
    return exit_usage;
  }
  std::shared_ptr<Target> target;
  try {
    target = make_target(options.delivery, {options.secret_env});
  } catch (const Error& error) {
    lines.error(error.what());
    return exit_usage;
  }

  // Before any thread starts, so that every thread inherits the blocked mask.
  const sigset_t signals = block_stop_signals();
  RequestLog log(options.log_format == "json", options.quiet);
  WorkerOptions worker_settings = worker_options(options.delivery, target, store);
  worker_settings.on_attempt = [&log](const AttemptReport& report) { log.write(report); };
  worker_settings.on_store_error = [&lines](const std::string& error) {
    lines.error("the store failed (trying again): " + error);
  };
  Worker worker(std::move(worker_settings));
  lines.say({{"store", options.store}}, "queue: " + loggable(options.store, 1000, true));
  handing_on_line(lines, options.delivery, *target);

  const StopSignals stop_signals(
      signals, [&worker] { worker.stop(); },
      [&log, &lines] {
        log.flush();
        lines.error("second signal; exiting without finishing the attempts in flight");
        std::_Exit(exit_rejected);
      });
  worker.run();
  return exit_ok;
}

}  // namespace tykhook::cli
