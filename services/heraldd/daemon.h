// Daemon: heraldd's parts wired together explicitly, in start-up order: (embedded) Redis, the queue
// and item store, the channels, one dispatcher per channel, the API server and the public (feeds)
// server, then what needs Redis (the channel registry, the month rollups, the dispatchers' and the
// recovery loop's start).
// An external Redis that is not reachable at start-up does not stop heraldd: it serves /healthz,
// answers everything else 503 "unavailable", and finishes starting once Redis answers.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "adapters/channel.h"
#include "config/config.h"
#include "core/clock.h"
#include "core/content_gate.h"
#include "core/metrics.h"
#include "queue/audit_log.h"
#include "queue/delivery_queue.h"
#include "queue/item_store.h"
#include "queue/redis.h"
#include "queue/redis_feed_store.h"
#include "queue/redis_rate_limiter.h"
#include "queue/redis_token_cache.h"
#include "queue/stats_store.h"
#include "services/common/http_server.h"
#include "services/common/run_guarded.h"
#include "services/dispatch/dispatcher.h"
#include "services/heraldd/api.h"
#include "services/heraldd/auth.h"
#include "services/heraldd/console_routes.h"
#include "services/heraldd/embedded_redis.h"
#include "services/heraldd/feed_routes.h"
#include "services/heraldd/metrics_routes.h"
#include "services/heraldd/notifier.h"
#include "services/heraldd/platform_reconciler.h"

namespace herald {

class Daemon {
 public:
  // `channels` builds each enabled channel from its section; main() wires the one registry it also
  // checked the config with, so a channel known to one is known to the other.
  Daemon(Config config, const ChannelRegistry& channels);
  ~Daemon();

  // A channel section that does not validate is an invalid_input error (exit code 2); anything
  // else that fails to start is an error of another kind (exit code 1). A Redis that cannot be
  // reached (a retryable error) is not a failure: start() returns ok and keeps trying in the
  // background; ready() says when start-up has finished.
  Result<void> start();
  bool ready() const { return ready_.load(); }
  // Stops accepting requests, drains the dispatchers, stops the embedded Redis.
  void stop();
  // Re-reads gate.blocked_words_file (SIGHUP). A file that cannot be read or parsed keeps the
  // list in force; the error is returned (and logged) so the caller can say why.
  Result<void> reload_gate();
  int api_port() const;
  int public_port() const;

  // A background thread that failed in a way a restart cannot mend (start-up half done) calls
  // `handler` once, on that thread; main() has it raise SIGTERM so heraldd stops as on a signal.
  void on_fatal(std::function<void()> handler);
  // Why heraldd must stop (the first such failure), if one happened: then it exits non-zero.
  std::optional<std::string> failure() const;

 private:
  // start()'s steps, in order. Nothing before finish_startup() needs Redis to answer.
  // The embedded Redis (if configured), the connection options and the API's pool.
  Result<void> set_up_redis();
  // The queue, the item store, the audit log and the stats store (no connection yet).
  void build_stores();
  Result<void> load_gate();
  void build_authenticator();
  // One channel and one (not yet started) dispatcher per enabled channel section.
  Result<void> build_channels_and_dispatchers();
  std::set<std::string> enabled_channels() const;
  void build_api();
  void build_console();  // by build_api, once api_ is there
  Result<void> build_public_feeds();
  void build_listeners();
  Result<void> start_listeners();
  // Redis was not reachable: record why and retry finish_startup() on startup_.
  void keep_trying_redis(const Error& first_error);

  // finish_startup()'s steps.
  Result<void> ping_redis(RedisConnection& conn);
  Result<void> prepare_stats(RedisConnection& conn);
  // The dispatchers and the recovery loop (unless stop() came first).
  Result<void> start_background_work();
  // The thread that sends reviewers' notifications (when notify configures any); under mutex_.
  void start_notifier();

  void recovery_loop();
  // One recovery pass; true if it repaired something or could not look (then the next comes
  // sooner).
  bool recover_once(RedisConnection& conn);
  // A guarded thread's wait before its loop runs again; stop if stop() is called meanwhile.
  AfterThrow pause_before_restart(std::chrono::milliseconds pause);
  // Records `why` (the first one wins) and calls the on_fatal handler.
  void fail(const std::string& why);
  // The part of start-up that needs Redis: one attempt (a fresh connection, with the configured
  // connect and command timeouts). On success the dispatchers and the recovery loop are running.
  Result<void> finish_startup();
  // Retries finish_startup() with backoff until it succeeds or stop() is called.
  void startup_loop();
  // What systemd shows for a ready heraldd (systemctl status): its listeners and channels.
  std::string ready_status() const;
  // The answer to every request but /healthz until start-up has finished.
  ServerResponse not_ready_response();
  // The public listener's whole surface: /healthz and the feeds.
  ServerResponse handle_public(const ServerRequest& request);

  Config config_;
  const ChannelRegistry& registry_;
  SystemClock clock_;
  std::unique_ptr<EmbeddedRedis> embedded_redis_;
  RedisOptions redis_options_;
  std::unique_ptr<RedisPool> pool_;
  std::unique_ptr<DeliveryQueue> queue_;
  std::unique_ptr<ItemStore> items_;
  std::unique_ptr<RedisRateLimiter> rate_limiter_;
  std::unique_ptr<RedisTokenCache> token_cache_;
  std::unique_ptr<RedisFeedStore> feed_store_;
  std::unique_ptr<Authenticator> auth_;
  SharedContentGate gate_;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<StatsStore> stats_;
  // Where every channel's calls run; declared before the channels so it outlives them.
  std::unique_ptr<OutboundIo> outbound_;
  std::vector<ChannelPtr> channels_;
  std::vector<std::unique_ptr<Dispatcher>> dispatchers_;
  std::unique_ptr<PlatformReconciler> reconciler_;  // reads channels_ back
  MetricsRegistry metrics_;
  std::unique_ptr<HttpMetrics> http_metrics_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<Console> console_;    // in front of api_: the web console and its sessions
  std::unique_ptr<HttpServer> server_;  // the API listener (http.listen)
  // The public listener (http.public) and what only it uses: its own Redis connections, so that
  // feed readers never wait for (or take) one of the API's.
  std::unique_ptr<RedisPool> public_pool_;
  std::unique_ptr<RedisFeedStore> public_feed_store_;
  std::unique_ptr<FeedRoutes> feed_routes_;  // null while the media channel is disabled
  std::unique_ptr<HttpServer> public_server_;

  mutable std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread recovery_;
  std::unique_ptr<ReviewOutbox> review_outbox_;  // null unless notify configures a recipient
  std::unique_ptr<Notifier> notifier_;
  std::thread notifier_thread_;
  std::thread startup_;  // running while Redis has not been reached
  std::atomic<bool> ready_{false};
  std::string redis_where_;         // the Redis endpoint, for messages (no password)
  std::string startup_error_;       // the last reason start-up could not finish (guarded by mutex_)
  std::function<void()> on_fatal_;  // guarded by mutex_
  std::optional<std::string> failure_;  // guarded by mutex_
};

}  // namespace herald
