// GET /metrics: Prometheus text format 0.0.4 (public, as DESIGN.md §4 lists it with /healthz;
// bind http.listen to a private address or filter it at the proxy). Counters kept by this process
// (HTTP requests, dispatcher outcomes) and gauges read from Redis at scrape time (queue depths).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/metrics.h"
#include "queue/delivery_queue.h"
#include "queue/redis.h"
#include "services/dispatch/dispatcher.h"
#include "services/heraldd/routes.h"

namespace herald {

// The route pattern of a request path, e.g. "/v1/items/{id}/approvals", "/feeds/{name}.rss";
// "unmatched" for anything else, so label values stay few whatever clients send.
std::string route_pattern(const std::string& path);

// HTTP request counts and latencies by route pattern (and status), registered in `registry`.
class HttpMetrics {
 public:
  explicit HttpMetrics(MetricsRegistry& registry);
  void observe(const std::string& path, int status, double seconds);

 private:
  CounterFamily& requests_;
  HistogramFamily& duration_;
};

struct MetricsSources {
  RedisPool& redis;
  DeliveryQueue& queue;
  std::set<std::string> channels;  // enabled channels
  const MetricsRegistry& registry;
  const Clock& clock;
  // This process's dispatchers, per channel.
  std::function<std::vector<std::pair<std::string, DispatcherStats>>()> dispatcher_stats;
  // Token fetches per cache key (e.g. "wechat:<appid>"), counted in Redis by every instance
  // (queue/redis_token_cache.h); may be left empty.
  std::function<Result<std::map<std::string, std::int64_t>>()> token_refreshes;
};

class MetricsRoutes : public RouteGroup {
 public:
  explicit MetricsRoutes(MetricsSources sources) : sources_(std::move(sources)) {}
  std::optional<ServerResponse> handle(const ServerRequest& request, const AuthUser* user) override;

 private:
  ServerResponse render();
  MetricsSources sources_;
};

}  // namespace herald
