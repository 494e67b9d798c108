#include "command_line.h"

#include <iostream>
#include <string_view>
#include <vector>

#include "completion.h"
#include "misread.h"
#include "tykhook/error.h"
#include "tykhook/version.h"

namespace tykhook::cli {

int run_command_line(int argc, char** argv, const NetworkCommands& network) {
  CLI::App app{"tykhook: verify, sign and receive Tyk Developer Portal webhooks", "tykhook"};
  app.set_version_flag("--version",
                       "tykhook " TYKHOOK_VERSION "\nbuilt with " + dependency_versions() +
                           ", CLI11 " CLI11_VERSION ", cpp-httplib " TYKHOOK_HTTPLIB_VERSION);
  app.require_subcommand(1);

  struct Command {
    CLI::App* parser;
    std::function<int()> run;
  };
  std::vector<Command> commands;
  VerifyOptions verify;
  commands.push_back({add_verify(app, verify), [&] { return run_verify(verify); }});
  SignOptions sign;
  commands.push_back({add_sign(app, sign), [&] { return run_sign(sign); }});
  SchemaOptions schema;
  commands.push_back({add_schema(app, schema), [&] { return run_schema(schema); }});
  ExampleOptions example;
  commands.push_back({add_example(app, example), [&] { return run_example(example); }});
  ListenOptions listen;
  commands.push_back({add_listen(app, listen), [&] { return network.listen(listen); }});
  SendOptions send;
  commands.push_back({add_send(app, send), [&] { return network.send(send); }});
  WorkOptions work;
  commands.push_back({add_work(app, work), [&] { return network.work(work); }});
  ReplayOptions replay;
  commands.push_back({add_replay(app, replay), [&] { return network.replay(replay); }});
  ProbeOptions probe;
  commands.push_back({add_probe(app, probe), [&] { return network.probe(probe); }});
  QueueOptions queue;
  commands.push_back({add_queue(app, queue), [&] { return run_queue(queue); }});
  SecretCommandOptions secret;
  commands.push_back({add_secret(app, secret), [&] { return run_secret(secret); }});
  CompletionOptions completion;
  commands.push_back(
      {add_completion(app, completion), [&] { return run_completion(app, completion); }});

  // `tykhook help [COMMAND...]` is `tykhook [COMMAND...] --help`, as people type it.
  std::vector<char*> words(argv, argv + argc);
  static char help_flag[] = "--help";
  if (words.size() >= 2 && std::string_view(words[1]) == "help") {
    words.erase(words.begin() + 1);
    words.push_back(help_flag);
  }
  try {
    app.parse(static_cast<int>(words.size()), words.data());
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return app.exit(error);  // --help, --version
    // Every error starts with the command it is about, and a word that was not understood is
    // named with the nearest one that would be.
    const Misreading found = misread(app, static_cast<int>(words.size()), words.data());
    std::cerr << found.where << ": " << found.problem.value_or(error.what());
    if (!found.problem) std::cerr << "; see " << found.where << " --help";
    std::cerr << '\n';
    return exit_usage;
  }
  for (const auto& command : commands) {
    if (!command.parser->parsed()) continue;
    const std::string name = command.parser->get_name();
    try {
      return command.run();
    } catch (const tykhook::Error& error) {
      std::cerr << "tykhook " << name << ": " << error.what() << '\n';
    } catch (const std::exception& error) {
      std::cerr << "tykhook " << name << ": internal error: " << error.what() << '\n';
    }
    return exit_usage;
  }
  return exit_usage;
}

}  // namespace tykhook::cli
