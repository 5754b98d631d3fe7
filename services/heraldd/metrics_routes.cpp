#include "services/heraldd/metrics_routes.h"

#include <spdlog/spdlog.h>

namespace herald {
namespace {

constexpr std::string_view kItems = "/v1/items/";
constexpr std::string_view kDeliveries = "/v1/deliveries/";
constexpr std::string_view kFeeds = "/feeds/";

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The one path segment after `prefix`, and what follows it ("" if nothing).
std::pair<std::string, std::string> split_after(const std::string& path, std::string_view prefix) {
  const std::string rest = path.substr(prefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string::npos) return {rest, ""};
  return {rest.substr(0, slash), rest.substr(slash + 1)};
}

}  // namespace

std::string route_pattern(const std::string& path) {
  static const std::set<std::string> kFixed = {"/healthz",
                                               "/readyz",
                                               "/metrics",
                                               "/v1/items",
                                               "/v1/items:batch",
                                               "/v1/stats",
                                               "/v1/imports",
                                               "/v1/stats/reconcile",
                                               "/v1/reports/annual",
                                               "/v1/deliveries/dead",
                                               "/feeds/alerts.cap.atom"};
  if (kFixed.count(path)) return path;
  if (path.rfind(kItems, 0) == 0) {
    auto [id, sub] = split_after(path, kItems);
    if (id.empty()) return "unmatched";
    if (sub.empty()) return "/v1/items/{id}";
    if (sub == "approvals" || sub == "audit" || sub == "retract" || sub == "corrections") {
      return "/v1/items/{id}/" + sub;
    }
    return "unmatched";
  }
  if (path.rfind(kDeliveries, 0) == 0) {
    auto [id, sub] = split_after(path, kDeliveries);
    return !id.empty() && sub == "replay" ? "/v1/deliveries/{id}/replay" : "unmatched";
  }
  if (path.rfind(kFeeds, 0) == 0) {
    auto [name, sub] = split_after(path, kFeeds);
    if (name == "cap" && ends_with(sub, ".xml") && sub.find('/') == std::string::npos) {
      return "/feeds/cap/{id}.xml";
    }
    if (!sub.empty()) return "unmatched";
    if (ends_with(name, ".rss")) return "/feeds/{name}.rss";
    if (ends_with(name, ".atom")) return "/feeds/{name}.atom";
  }
  return "unmatched";
}

HttpMetrics::HttpMetrics(MetricsRegistry& registry)
    : requests_(registry.counter("herald_http_requests_total",
                                 "HTTP requests answered by this process, by route pattern and "
                                 "status.",
                                 {"route", "status"})),
      duration_(registry.histogram(
          "herald_http_request_duration_seconds",
          "Time from a parsed request to its answer leaving the handler, by route pattern.",
          {"route"}, {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})) {}

void HttpMetrics::observe(const std::string& path, int status, double seconds) {
  const std::string route = route_pattern(path);
  requests_.add({route, std::to_string(status)});
  duration_.observe({route}, seconds);
}

std::optional<ServerResponse> MetricsRoutes::handle(const ServerRequest& request, const AuthUser*) {
  if (request.path != "/metrics") return std::nullopt;
  if (request.method != "GET") return method_not_allowed("GET", request.path);
  return render();
}

ServerResponse MetricsRoutes::render() {
  MetricsWriter out;
  sources_.registry.write(out);

  const auto stats = sources_.dispatcher_stats
                         ? sources_.dispatcher_stats()
                         : std::vector<std::pair<std::string, DispatcherStats>>{};
  out.family("herald_deliveries_total", "counter",
             "Delivery outcomes applied by this process's dispatchers since it started "
             "(process-local: sum over instances), by channel and outcome.");
  for (const auto& [channel, s] : stats) {
    for (const auto& [outcome, value] :
         {std::pair{"published", s.published}, std::pair{"retry", s.retried},
          std::pair{"dead", s.dead}, std::pair{"stale", s.stale}}) {
      out.sample("herald_deliveries_total", {{"channel", channel}, {"outcome", outcome}},
                 static_cast<double>(value));
    }
  }
  out.family("herald_retries_total", "counter",
             "Retries scheduled by this process's dispatchers since it started (process-local), "
             "by channel.");
  for (const auto& [channel, s] : stats) {
    out.sample("herald_retries_total", {{"channel", channel}}, static_cast<double>(s.retried));
  }
  out.family("herald_dispatcher_in_flight", "gauge",
             "Deliveries claimed and not yet acknowledged by this process's dispatchers.");
  for (const auto& [channel, s] : stats) {
    out.sample("herald_dispatcher_in_flight", {{"channel", channel}},
               static_cast<double>(s.in_flight));
  }

  // Shared state, read from Redis: the same for every instance.
  bool redis_ok = true;
  auto conn = sources_.redis.acquire();
  std::vector<std::pair<std::string, LaneDepths>> depths;
  if (conn) {
    for (const auto& channel : sources_.channels) {
      auto d = sources_.queue.depths(**conn, channel);
      if (!d) {
        redis_ok = false;
        spdlog::warn("metrics: queue depths of {}: {}", channel, d.error().message);
        break;
      }
      depths.emplace_back(channel, *d);
    }
  } else {
    redis_ok = false;
  }
  const double now_s = static_cast<double>(sources_.clock.now_ms()) / 1000.0;
  out.family("herald_queue_depth", "gauge",
             "Deliveries waiting in Redis, by channel and lane (alert, routine, scheduled: "
             "publish_at and retries not yet due).");
  for (const auto& [channel, d] : depths) {
    out.sample("herald_queue_depth", {{"channel", channel}, {"lane", "alert"}},
               static_cast<double>(d.alert));
    out.sample("herald_queue_depth", {{"channel", channel}, {"lane", "routine"}},
               static_cast<double>(d.routine));
    out.sample("herald_queue_depth", {{"channel", channel}, {"lane", "scheduled"}},
               static_cast<double>(d.timed));
  }
  out.family("herald_queue_oldest_waiting_seconds", "gauge",
             "Age of the oldest delivery waiting in a lane, by channel (0 when none waits).");
  for (const auto& [channel, d] : depths) {
    double age = 0;
    if (d.oldest_waiting) {
      age = std::max(0.0, now_s - static_cast<double>(to_unix_ms(*d.oldest_waiting)) / 1000.0);
    }
    out.sample("herald_queue_oldest_waiting_seconds", {{"channel", channel}}, age);
  }
  out.family("herald_in_flight", "gauge",
             "Deliveries under a lease in Redis (claimed by any instance), by channel.");
  for (const auto& [channel, d] : depths) {
    out.sample("herald_in_flight", {{"channel", channel}}, static_cast<double>(d.inflight));
  }
  out.family("herald_dead_letters", "gauge", "Dead letters waiting for a replay, by channel.");
  for (const auto& [channel, d] : depths) {
    out.sample("herald_dead_letters", {{"channel", channel}}, static_cast<double>(d.dead));
  }
  if (sources_.token_refreshes) {
    out.family(
        "herald_token_refreshes_total", "counter",
        "Platform access-token fetches, counted in Redis across every instance, by token key.");
    auto counts = conn ? sources_.token_refreshes()
                       : Result<std::map<std::string, std::int64_t>>(conn.error());
    if (counts) {
      for (const auto& [key, value] : *counts) {
        out.sample("herald_token_refreshes_total", {{"key", key}}, static_cast<double>(value));
      }
    } else {
      redis_ok = false;
    }
  }
  out.family("herald_metrics_redis_up", "gauge",
             "1 if this scrape could read the shared counters from Redis, else 0.");
  out.sample("herald_metrics_redis_up", {}, redis_ok ? 1 : 0);

  ServerResponse response;
  response.status = 200;
  response.content_type = kMetricsContentType;
  response.body = out.text();
  return response;
}

}  // namespace herald
