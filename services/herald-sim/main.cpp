// herald-sim: simulated publishing platforms on one HTTP port, for tests, demos and drills.
// Prints "herald-sim listening on http://HOST:PORT" once bound (preceded, with --smtp-listen, by
// "herald-sim smtp sink listening on smtp://HOST:PORT"); SIGINT/SIGTERM stop it (exit 0).
#include <pthread.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <iostream>
#include <random>
#include <string>

#include "services/common/version.h"
#include "services/herald-sim/simulator.h"

namespace {

constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

constexpr const char* kFooter = R"(Fault SPEC: PLATFORM:KEY=VALUE,...;PLATFORM:...   e.g.
  webhook:5xx=0.3,429=0.1,drop=0.05,late=0.05,latency_ms=20;weibo:quota=0.05
  5xx=P              answer 500 or 503 with probability P, record nothing
  429=P              answer 429 with Retry-After (retry_after_s=N, default 1), record nothing
  quota=P            the platform's own quota answer, record nothing: Weibo 10023 (HTTP 403) or
                     20016 (HTTP 400); WeChat errcode 45009 or 45011 (HTTP 200); portal, webhook,
                     websub 429 with Retry-After (retry_after_s)
  drop=P             (alias: timeout=P) the platform never acts; the request is held stall_ms
                     (default 30000) without a thread, then the connection closes unanswered
  late=P             the platform ACTS (records, publishes) and its answer goes out only after
                     stall_ms, i.e. after the client's timeout: read back to find out
  accept_then_5xx=P  record, then answer 500 (a retry must be caught as a duplicate)
  latency_ms=N       add N ms to every answer
  fail_next=N        the next N requests answer 503 (deterministic, for tests)
5xx + 429 + quota + drop + late must add up to at most 1. Platforms: webhook, portal, weibo,
wechat, websub, smtp.
Control: GET /_sim/health, GET /_sim/published?platform=NAME (the platform's truth: every post,
article, mass send, submission or delivery it holds, deleted/withdrawn ones marked, not omitted;
WeChat's also lists issued_tokens, every access_token it handed out),
GET|POST /_sim/faults (spec as text or {"spec": "..."}), POST /_sim/reset (forgets recordings and
faults), GET|POST /_sim/config ({"webhook_secret": "..."}).
SMTP sink (--smtp-listen; no STARTTLS, no AUTH) faults, e.g. smtp:rcpt_550=*@bad.example:
  rcpt_550=GLOB / rcpt_450=GLOB   refuse matching RCPT TO addresses with 550 / 450
  data_451=P / data_554=P         answer the end of DATA with 451 / 554, record nothing
WebSub hub: POST /websub/hub (hub.mode=publish, hub.url=...) answers 204; platform "websub".
Portal (/api/v1/submissions, channel-apis.md §3, §5A) settings: portal_key, portal_app_id,
portal_publish_after_polls (default 1), portal_publish_after_ms, portal_reject_next ("reason").
Weibo (/2/..., channel-apis.md §1; token weibo-sim-token) settings: weibo_token, weibo_max_chars,
weibo_hourly_limit (default 30, → 10024), weibo_minute_limit (default 0 = off, → 20016),
weibo_safe_domain, weibo_next_errors.
WeChat (/cgi-bin/..., channel-apis.md §2; AppID wx5e1a1d0000000001, AppSecret wechat-sim-secret)
settings: wechat_appid, wechat_secret, wechat_token_ttl_ms, wechat_grace_ms, wechat_expire_tokens,
wechat_revoke_token, wechat_next_errors, wechat_token_next_errors, wechat_daily_quota,
wechat_minute_limit, wechat_mass_quota, wechat_mass_max_chars, wechat_publish_delay_ms (default
1000: the platform publishes a submitted draft this long after submit, polled or not),
wechat_publish_fail_next.)";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "herald-sim: simulated publishing platforms (Weibo /2/, WeChat /cgi-bin/, the portal "
      "/api/v1/, webhooks /hooks/{name}, WebSub /websub/hub) on one HTTP port, with fault "
      "injection and a control API under /_sim/"};
  std::string listen;
  std::string smtp_listen;
  std::string faults;
  std::uint64_t seed = 0;
  herald::sim::SimulatorOptions options;
  app.add_option("--listen", listen, "HTTP address HOST:PORT (port 0 picks a free one)")
      ->required();
  app.add_option("--smtp-listen", smtp_listen,
                 "SMTP sink address HOST:PORT (port 0 picks a free one); default: no sink");
  app.add_option("--faults", faults, "fault spec, see below");
  auto* seed_option = app.add_option("--seed", seed, "seed for the fault draws (default: random)");
  app.add_option("--webhook-secret", options.webhook_secret,
                 "check X-Herald-Signature: sha256=HMAC-SHA256(secret, body) on webhooks");
  app.add_option("--portal-key", options.portal_key,
                 "check the portal's X-Gov-Signature (HMAC-SHA256 key; see channel-apis.md §3)");
  app.add_option("--handler-threads", options.handler_threads, "request handler threads")
      ->check(CLI::Range(1, 256));
  app.footer(kFooter);
  app.set_version_flag("--version", "herald-sim " + herald::version_string());
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }

  spdlog::set_default_logger(spdlog::stderr_color_mt("herald-sim"));
  options.listen = listen;
  options.smtp_listen = smtp_listen;
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
  if (!smtp_listen.empty()) {
    // Its own line, before the HTTP one: tests take everything after "listening on " as the URL.
    std::string smtp_host = smtp_listen.substr(0, smtp_listen.rfind(':'));
    if (smtp_host.empty()) smtp_host = "0.0.0.0";
    std::cout << "herald-sim smtp sink listening on smtp://" << smtp_host << ":"
              << simulator.smtp_port() << std::endl;
  }
  std::cout << "herald-sim listening on http://" << host << ":" << simulator.port() << std::endl;

  int received = 0;
  sigwait(&stop_signals, &received);
  spdlog::info("signal {}: stopping", received);
  simulator.stop();
  return 0;
}
