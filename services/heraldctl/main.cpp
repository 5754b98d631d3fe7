// heraldctl: the command line over heraldd's REST API (DESIGN.md §4). Server and token come from
// --server/--token or HERALD_URL/HERALD_TOKEN. Exit codes (client.h): 0 ok, 1 runtime failure
// worth retrying, 2 bad usage, bad config or a 4xx refusal.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "adapters/http_client.h"
#include "services/heraldctl/client.h"
#include "services/heraldctl/commands.h"

int main(int argc, char** argv) {
  herald::init_http_client_library();
  CLI::App app{
      "heraldctl: submit, review, follow and retract Herald items; dead letters, stats "
      "and the annual report"};
  herald::ctl::Cli cli(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a ParseError with exit code 0; every real parse error is bad usage.
    return app.exit(e) == 0 ? herald::ctl::kExitOk : herald::ctl::kExitUsage;
  }
  try {
    return cli.run();
  } catch (const std::exception& e) {
    std::cerr << "heraldctl: " << e.what() << "\n";
    return herald::ctl::kExitRuntime;
  }
}
