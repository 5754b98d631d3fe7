// heraldctl: the command line over heraldd's REST API (DESIGN.md §4). The server comes from
// --server or HERALD_URL, the token from HERALD_TOKEN or --token-file (--token still works, with a
// warning: arguments show in ps). Exit codes (client.h): 0 ok, 1 runtime failure
// worth retrying, 2 bad usage, bad config or a 4xx refusal.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "adapters/http_client.h"
#include "services/common/version.h"
#include "services/heraldctl/client.h"
#include "services/heraldctl/commands.h"
#include "services/heraldctl/table.h"

namespace {

// Puts a PrintableBuf in front of a stream for the life of main, and takes it away (flushed)
// before the stream is used by anything else.
class PrintableStream {
 public:
  explicit PrintableStream(std::ostream& stream)
      : stream_(stream), filter_(stream.rdbuf()), original_(stream.rdbuf(&filter_)) {}
  ~PrintableStream() {
    stream_.flush();
    stream_.rdbuf(original_);
  }
  PrintableStream(const PrintableStream&) = delete;
  PrintableStream& operator=(const PrintableStream&) = delete;

 private:
  std::ostream& stream_;
  herald::ctl::PrintableBuf filter_;
  std::streambuf* original_;
};

}  // namespace

int main(int argc, char** argv) {
  // Everything heraldctl prints may carry server text: nothing reaches the terminal raw.
  PrintableStream out(std::cout);
  PrintableStream err(std::cerr);
  herald::init_http_client_library();
  CLI::App app{
      "heraldctl: submit, review, follow and retract Herald items; dead letters, stats "
      "and the annual report"};
  herald::ctl::Cli cli(app);
  app.set_version_flag("--version", "heraldctl " + herald::version_string());
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
