// herald-sim: simulated publishing platforms on one HTTP port, for tests, demos and drills.
// Prints "herald-sim listening on http://HOST:PORT" once bound; SIGINT/SIGTERM stop it (exit 0).
#include <pthread.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <iostream>
#include <random>
#include <string>

#include "services/herald-sim/simulator.h"

namespace {

constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

constexpr const char* kFooter = R"(Fault SPEC: PLATFORM:KEY=VALUE,...;PLATFORM:...   e.g.
  webhook:5xx=0.3,429=0.1,timeout=0.05,latency_ms=20
  5xx=P              answer 500 or 503 with probability P, record nothing
  429=P              answer 429 with Retry-After (retry_after_s=N, default 1), record nothing
  timeout=P          hold the request stall_ms (default 30000) without a thread, then close the
                     connection without answering, record nothing
  accept_then_5xx=P  record, then answer 500 (a retry must be caught as a duplicate)
  latency_ms=N       add N ms to every answer
  fail_next=N        the next N requests answer 503 (deterministic, for tests)
5xx + 429 + timeout must add up to at most 1. Platforms: webhook.
Control: GET /_sim/health, GET /_sim/published?platform=NAME, GET|POST /_sim/faults (spec as text
or {"spec": "..."}), POST /_sim/reset (forgets recordings and faults), GET|POST /_sim/config
({"webhook_secret": "..."}).
Portal (/api/v1/submissions, channel-apis.md §3) settings: portal_key, portal_app_id,
portal_publish_after_polls (default 1), portal_publish_after_ms, portal_reject_next ("reason").)";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "herald-sim: simulated publishing platforms (webhooks under /hooks/{name}) on one "
      "HTTP port, with fault injection and a control API under /_sim/"};
  std::string listen;
  std::string smtp_listen;
  std::string faults;
  std::uint64_t seed = 0;
  herald::sim::SimulatorOptions options;
  app.add_option("--listen", listen, "HTTP address HOST:PORT (port 0 picks a free one)")
      ->required();
  app.add_option("--smtp-listen", smtp_listen, "SMTP sink address HOST:PORT (not yet supported)");
  app.add_option("--faults", faults, "fault spec, see below");
  auto* seed_option = app.add_option("--seed", seed, "seed for the fault draws (default: random)");
  app.add_option("--webhook-secret", options.webhook_secret,
                 "check X-Herald-Signature: sha256=HMAC-SHA256(secret, body) on webhooks");
  app.add_option("--portal-key", options.portal_key,
                 "check the portal's X-Gov-Signature (HMAC-SHA256 key; see channel-apis.md §3)");
  app.add_option("--handler-threads", options.handler_threads, "request handler threads")
      ->check(CLI::Range(1, 256));
  app.footer(kFooter);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }

  spdlog::set_default_logger(spdlog::stderr_color_mt("herald-sim"));
  if (!smtp_listen.empty()) {
    std::cerr << "herald-sim: --smtp-listen is not supported yet\n";
    return kExitUsage;
  }
  options.listen = listen;
  options.seed = seed_option->count() > 0 ? seed : std::random_device{}();

  // Block the stop signals before any thread starts, so every thread inherits the mask and
  // sigwait below is the only place they arrive.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  herald::sim::Simulator simulator(options);
  if (auto applied = simulator.set_faults(faults); !applied) {
    std::cerr << "herald-sim: bad --faults: " << applied.error().message << "\n";
    return kExitUsage;
  }
  if (auto started = simulator.start(); !started) {
    std::cerr << "herald-sim: " << started.error().message << "\n";
    return started.error().kind == herald::ErrorKind::invalid_input ? kExitUsage : kExitRuntime;
  }
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.empty()) host = "0.0.0.0";
  spdlog::info("fault seed {}", options.seed);
  std::cout << "herald-sim listening on http://" << host << ":" << simulator.port() << std::endl;

  int received = 0;
  sigwait(&stop_signals, &received);
  spdlog::info("signal {}: stopping", received);
  simulator.stop();
  return 0;
}
