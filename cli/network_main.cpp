// tykhook-network: tykhook with the commands that talk HTTP (`listen`, `send`, `work`,
// `replay`, `probe`). `tykhook` hands those commands over to this program with the same command
// line (cli/main.cpp); it is installed under libexec, not on the PATH.
#include "command_line.h"

int main(int argc, char** argv) {
  using namespace tykhook::cli;
  return run_command_line(argc, argv,
                          {.listen = run_listen,
                           .send = run_send,
                           .work = run_work,
                           .replay = run_replay,
                           .probe = run_probe});
}
