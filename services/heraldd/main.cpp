// heraldd: Herald's daemon. Exit codes: 0 after a clean stop, 1 on a runtime failure (at start-up,
// or a background thread that failed beyond repair: heraldd then stops cleanly), 2 on bad usage
// or bad config.
#include <signal.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>

#include "adapters/channel.h"
#include "adapters/http_client.h"
#include "config/config.h"
#include "services/common/version.h"
#include "services/heraldd/daemon.h"
#include "services/heraldd/logging.h"
#include "services/heraldd/systemd_notify.h"

namespace {

// Two listeners with thousands of connections between them (plus Redis, curl and the embedded
// Redis's pipes) need more descriptors than the usual soft limit of 1024: take the hard limit. A
// hard limit below the listeners' caps is worth a warning, since accept() then fails for both.
void raise_open_files_limit(const herald::HttpConfig& http) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    const rlim_t before = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      limit.rlim_cur = before;
      spdlog::warn("could not raise the open files limit from {}", before);
    }
  }
  // Headroom for Redis connections, HTTP clients, logs and refusals being written.
  constexpr rlim_t kOtherDescriptors = 512;
  const auto needed = static_cast<rlim_t>(http.max_connections) +
                      static_cast<rlim_t>(http.public_listener.max_connections) + kOtherDescriptors;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
    spdlog::warn(
        "open files limit {} is below what http.max_connections and http.public.max_connections "
        "allow ({} with headroom): raise it (LimitNOFILE=) or lower them",
        limit.rlim_cur, needed);
  }
}

// The next of `signals` to arrive, 0 when `wait` (if any) passed first, -1 on an error.
int next_signal(const sigset_t& signals, std::optional<std::chrono::microseconds> wait) {
  if (!wait) {
    int sig = 0;
    return sigwait(&signals, &sig) == 0 ? sig : -1;
  }
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(*wait);
  const auto nanoseconds = std::chrono::duration_cast<std::chrono::nanoseconds>(*wait - seconds);
  const timespec timeout{static_cast<time_t>(seconds.count()),
                         static_cast<long>(nanoseconds.count())};
  for (;;) {
    const int sig = sigtimedwait(&signals, nullptr, &timeout);
    if (sig > 0) return sig;
    if (errno == EAGAIN) return 0;
    if (errno != EINTR) return -1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"heraldd: publishes approved items and overseas safety alerts to every channel"};
  std::string config_path;
  bool check_only = false;
  app.add_option("-c,--config", config_path, "config file (JSON with comments)")->required();
  app.add_flag("--check-config", check_only, "validate the config and exit");
  app.set_version_flag("--version", "heraldd " + herald::version_string());
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
  herald::setup_logging(config->log, config->office.utc_offset_minutes);
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
  raise_open_files_limit(config->http);

  // Signals are taken synchronously by this thread; every other thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  herald::systemd::notify_status("starting");
  herald::Daemon daemon(std::move(*config), registry);
  // The same way out as Ctrl-C or systemd's stop: the loop below drains and stops; the failure
  // makes the exit code 1. kill(), not raise(): the signal must reach this thread's sigwait.
  daemon.on_fatal([] { kill(getpid(), SIGTERM); });
  herald::Result<void> started = herald::ok();
  try {
    started = daemon.start();
  } catch (const std::exception& e) {
    // A broken invariant (a thread that could not be created, say): stop what did start.
    started = herald::Error::permanent(std::string("start-up failed: ") + e.what());
  } catch (...) {
    started = herald::Error::permanent("start-up failed: unknown exception");
  }
  if (!started) {
    const auto& e = started.error();
    std::cerr << "heraldd: " << (e.field.empty() ? "" : e.field + ": ") << e.message << "\n";
    daemon.stop();
    return e.kind == herald::ErrorKind::invalid_input ? 2 : 1;
  }
  std::cout << "heraldd listening on port " << daemon.api_port() << ", feeds on port "
            << daemon.public_port() << std::endl;

  // With a watchdog this thread, idle otherwise, is the one that tells systemd heraldd is alive,
  // on time however many SIGHUPs come in between.
  const auto watchdog = herald::systemd::watchdog_interval();
  auto next_ping = std::chrono::steady_clock::now();
  for (;;) {
    std::optional<std::chrono::microseconds> wait;
    if (watchdog) {
      wait = std::max(std::chrono::microseconds(0),
                      std::chrono::duration_cast<std::chrono::microseconds>(
                          next_ping - std::chrono::steady_clock::now()));
    }
    const int sig = next_signal(signals, wait);
    if (sig == 0) {
      herald::systemd::notify_watchdog();
      next_ping = std::chrono::steady_clock::now() + *watchdog;
      continue;
    }
    if (sig == SIGHUP) {
      (void)daemon.reload_gate();  // logs either way; a bad file keeps the list in force
      continue;
    }
    if (sig > 0) spdlog::info("signal {}: draining and stopping", sig);
    break;
  }
  herald::systemd::notify_stopping();
  daemon.stop();
  if (auto failure = daemon.failure()) {
    spdlog::error("heraldd stopped after a failure: {}", *failure);
    return 1;
  }
  spdlog::info("heraldd stopped");
  return 0;
}
