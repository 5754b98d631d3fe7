// Daemon: heraldd's parts wired together explicitly, in start-up order: (embedded) Redis, the queue
// and item store, the channels, one dispatcher per channel, the recovery loop, the API server.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
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
#include "services/dispatch/dispatcher.h"
#include "services/heraldd/api.h"
#include "services/heraldd/auth.h"
#include "services/heraldd/embedded_redis.h"
#include "services/heraldd/metrics_routes.h"

namespace herald {

class Daemon {
 public:
  explicit Daemon(Config config);
  ~Daemon();

  // A channel section that does not validate is an invalid_input error (exit code 2); anything
  // else that fails to start is an error of another kind (exit code 1).
  Result<void> start();
  // Stops accepting requests, drains the dispatchers, stops the embedded Redis.
  void stop();
  // Re-reads gate.blocked_words_file (SIGHUP). A file that cannot be read or parsed keeps the
  // list in force; the error is returned (and logged) so the caller can say why.
  Result<void> reload_gate();
  int api_port() const;

 private:
  void recovery_loop();

  Config config_;
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
  std::vector<ChannelPtr> channels_;
  std::vector<std::unique_ptr<Dispatcher>> dispatchers_;
  MetricsRegistry metrics_;
  std::unique_ptr<HttpMetrics> http_metrics_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<HttpServer> server_;

  std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread recovery_;
};

}  // namespace herald
