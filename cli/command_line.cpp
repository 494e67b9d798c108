#include "command_line.h"

#include <iostream>
#include <vector>

#include "tykhook/error.h"

namespace tykhook::cli {

int run_command_line(int argc, char** argv, const NetworkCommands& network) {
  CLI::App app{"tykhook: verify, sign and receive Tyk Developer Portal webhooks", "tykhook"};
  app.set_version_flag("--version", TYKHOOK_VERSION);
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? exit_ok : exit_usage;  // CLI11 uses 100+
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
