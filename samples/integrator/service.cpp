// A service that receives the portal's webhooks: prints each new user's e-mail and appends each
// approved access request to a file.
//   integrator_service [PORT [APPROVED_FILE]]    the secret comes from PORTAL_WEBHOOKS_SECRET
// PORT: default TYKHOOK_PORT, else 8080; 0 picks a free one. APPROVED_FILE: default approved.txt.
#include <signal.h>
#include <tykhook/receiver.h>
#include <tykhook/schema.h>
#include <tykhook/store.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>

int main(int argc, char** argv) try {
  const char* port_env = std::getenv("TYKHOOK_PORT");
  const int port = std::stoi(argc > 1 ? argv[1] : port_env ? port_env : "8080");
  const std::string approved_file = argc > 2 ? argv[2] : "approved.txt";
  const char* secret = std::getenv("PORTAL_WEBHOOKS_SECRET");
  if (secret == nullptr || *secret == '\0') {
    std::cerr << "integrator_service: PORTAL_WEBHOOKS_SECRET is not set; export the secret\n";
    return 2;
  }

  tykhook::Dispatcher handlers;
  handlers.on<tykhook::Event::UserRegistered>(
      [](const tykhook::UserMessage& user, const tykhook::Verdict&) {
        std::cout << "new user: " << user.email << std::endl;
      });
  handlers.on<tykhook::Event::AccessRequestApproved>(
      [&](const tykhook::AccessRequestMessage& request, const tykhook::Verdict&) {
        std::ofstream out(approved_file, std::ios::app);
        out << "access request " << request.id << " approved: app " << request.app_id << ", plan "
            << request.plan_id << '\n';
        // A throw answers 500, and the receiver releases the delivery's key in the store.
        if (!out.flush()) throw std::runtime_error(approved_file + ": cannot write");
      });

  tykhook::ReceiverOptions options;
  options.verifier.secrets.emplace_back(secret);
  options.verifier.tolerance = std::chrono::minutes(5);
  options.verifier.schemas = tykhook::SchemaRegistry::embedded();
  options.verifier.store = tykhook::open_store("memory:");  // sqlite:PATH survives a restart
  tykhook::Receiver receiver(std::move(options), std::move(handlers));
  std::cout << "listening on port " << receiver.bind("127.0.0.1", port) << std::endl;

  // SIGINT or SIGTERM stops the receiver; requests in flight are finished first.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // before the worker threads start
  std::thread stopper([&] {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    receiver.stop();
  });
  stopper.detach();
  receiver.serve();
  return 0;
} catch (const std::exception& error) {
  std::cerr << "integrator_service: " << error.what() << '\n';
  return 1;
}
