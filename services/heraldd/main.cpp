// heraldd: Herald's daemon. Exit codes: 0 after a clean stop, 1 on a runtime failure, 2 on bad
// usage or bad config.
#include <signal.h>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "adapters/channel.h"
#include "adapters/http_client.h"
#include "config/config.h"
#include "services/heraldd/daemon.h"
#include "services/heraldd/logging.h"

int main(int argc, char** argv) {
  CLI::App app{"heraldd: publishes approved items and overseas safety alerts to every channel"};
  std::string config_path;
  bool check_only = false;
  app.add_option("-c,--config", config_path, "config file (JSON with comments)")->required();
  app.add_flag("--check-config", check_only, "validate the config and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  herald::ChannelRegistry registry;
  herald::register_builtin_channels(registry);
  const auto names = registry.names();
  auto config = herald::load_config_file(config_path, {names.begin(), names.end()});
  if (!config) {
    std::cerr << "heraldd: bad config " << config_path << ": "
              << (config.error().field.empty() ? "" : config.error().field + ": ")
              << config.error().message << "\n";
    return 2;
  }
  herald::setup_logging(config->log);
  if (check_only) {
    // Channel sections are validated by their factories; build each one (disabled ones too) so
    // a mistake is found now rather than on the day a channel is switched on.
    herald::SystemClock clock;
    herald::ChannelDeps deps{clock, nullptr};
    for (const auto& [name, section] : config->channels) {
      auto channel = registry.create(name, section.settings, "channels." + name, deps);
      if (!channel) {
        std::cerr << "heraldd: bad config " << config_path << ": " << channel.error().field << ": "
                  << channel.error().message << "\n";
        return 2;
      }
    }
    std::cout << "config ok\n";
    return 0;
  }

  herald::init_http_client_library();  // before any thread starts (curl_global_init)

  // Signals are taken synchronously by this thread; every other thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  herald::Daemon daemon(std::move(*config));
  if (auto started = daemon.start(); !started) {
    const auto& e = started.error();
    std::cerr << "heraldd: " << (e.field.empty() ? "" : e.field + ": ") << e.message << "\n";
    daemon.stop();
    return e.kind == herald::ErrorKind::invalid_input ? 2 : 1;
  }
  std::cout << "heraldd listening on port " << daemon.api_port() << std::endl;

  int sig = 0;
  while (sigwait(&signals, &sig) == 0) {
    if (sig == SIGHUP) {
      (void)daemon.reload_gate();  // logs either way; a bad file keeps the list in force
      continue;
    }
    spdlog::info("signal {}: draining and stopping", sig);
    break;
  }
  daemon.stop();
  spdlog::info("heraldd stopped");
  return 0;
}
