// tykhook: verify, sign and receive the webhooks of the Tyk Developer Portal.
// The commands that talk HTTP (`listen`, `send`, `work`, `replay`, `probe`) run in tykhook-network,
// which links the HTTP library: this program does not, so that `verify` starts without loading
// cpp-httplib and its TLS and compression libraries (2.4 of the 5.2 ms that verifying one capture
// took; bench/README.md).
#include "command_line.h"
#include "network_program.h"

int main(int argc, char** argv) {
  using namespace tykhook::cli;
  const auto hand_over = [argv](const auto&) -> int { run_network_program(argv); };
  return run_command_line(argc, argv,
                          {.listen = hand_over,
                           .send = hand_over,
                           .work = hand_over,
                           .replay = hand_over,
                           .probe = hand_over});
}
