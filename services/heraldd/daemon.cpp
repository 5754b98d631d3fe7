#include "services/heraldd/daemon.h"

#include <unistd.h>

#include <spdlog/spdlog.h>
#include <thread>
#include <vector>

#include "services/heraldd/delivery_routes.h"
#include "services/heraldd/feed_routes.h"
#include "services/heraldd/item_list_routes.h"
#include "services/heraldd/recall_routes.h"
#include "services/heraldd/report_routes.h"
#include "services/heraldd/stats_routes.h"

namespace herald {
namespace {

// A fan-out pending this long is taken to belong to a heraldd that died before finishing it.
constexpr std::chrono::milliseconds kFanoutGrace{10000};
constexpr std::chrono::milliseconds kRecoveryInterval{5000};

// The gate again at dispatch time, on what the delivery will publish: a word blocked after the
// item was approved still stops it (dead letter "gate_blocked", replayable once the list changes).
Result<void> gate_delivery(const SharedContentGate& gate, const Delivery& delivery) {
  auto fail = [](std::string message) {
    Error e = Error::permanent(std::move(message));
    e.code = "gate_blocked";
    return e;
  };
  const auto payload = nlohmann::json::parse(delivery.payload, nullptr, false);
  if (!payload.is_object()) return fail("the delivery's payload is not an item: not checked");
  auto text = [&](const char* key, const char* fallback) {
    const auto it = payload.find(key);
    return it != payload.end() && it->is_string() ? it->get<std::string>() : std::string(fallback);
  };
  const GateVerdict verdict = gate.get()->check(text("classification", "public"), text("title", ""),
                                                text("summary", ""), text("body", ""));
  if (verdict.allowed) return ok();
  return fail("held by the content gate (" + verdict.code + "): " + verdict.message);
}

std::string host_name() {
  char buf[256] = {0};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

}  // namespace

Daemon::Daemon(Config config) : config_(std::move(config)) {}

Daemon::~Daemon() {
  stop();
}

Result<void> Daemon::start() {
  std::string redis_url = config_.redis.url;
  if (redis_url == "embedded") {
    EmbeddedRedisOptions eo;
    eo.binary = config_.redis.embedded.binary;
    eo.data_dir = config_.data_dir;
    eo.port = config_.redis.embedded.port;
    eo.appendonly = config_.redis.embedded.appendonly;
    embedded_redis_ = std::make_unique<EmbeddedRedis>(eo);
    if (auto started = embedded_redis_->start(); !started) return started;
    redis_url = embedded_redis_->url();
  }
  redis_options_.url = redis_url;
  redis_options_.connect_timeout = std::chrono::milliseconds(config_.redis.connect_timeout_ms);
  redis_options_.command_timeout = std::chrono::milliseconds(config_.redis.command_timeout_ms);
  pool_ = std::make_unique<RedisPool>(redis_options_, config_.redis.pool_size);

  QueueOptions qo;
  qo.prefix = config_.redis.key_prefix;
  qo.lease = std::chrono::milliseconds(config_.queue.lease_ms);
  qo.max_attempts = config_.queue.max_attempts;
  qo.retry_base = std::chrono::milliseconds(config_.queue.retry_base_ms);
  qo.retry_max = std::chrono::milliseconds(config_.queue.retry_max_ms);
  qo.idle_block = std::chrono::milliseconds(config_.queue.idle_block_ms);
  qo.utc_offset_minutes = config_.office.utc_offset_minutes;
  qo.audit_retention = std::chrono::hours(24) * config_.audit.retention_days;
  queue_ = std::make_unique<DeliveryQueue>(qo, clock_);
  items_ = std::make_unique<ItemStore>(
      config_.redis.key_prefix, *queue_, clock_,
      std::chrono::duration_cast<std::chrono::seconds>(qo.audit_retention));
  audit_ = std::make_unique<AuditLog>(config_.redis.key_prefix);
  stats_ =
      std::make_unique<StatsStore>(config_.redis.key_prefix, config_.office.utc_offset_minutes);
  auto gate = ContentGate::from_file(config_.gate.blocked_words_file);
  if (!gate) return gate.error();
  gate_.set(std::move(*gate));
  spdlog::info("content gate: {} blocked word(s)", gate_.get()->word_count());

  std::vector<AuthUser> users;
  for (const auto& u : config_.auth.users) {
    users.push_back(
        {u.name, std::set<std::string>(u.roles.begin(), u.roles.end()), u.token_sha256});
  }
  auth_ = std::make_unique<Authenticator>(std::move(users));

  // Channels: each factory validates its own section; a bad one stops start-up with its key.
  ChannelRegistry registry;
  register_builtin_channels(registry);
  rate_limiter_ = std::make_unique<RedisRateLimiter>(config_.redis.key_prefix, *pool_, clock_);
  ChannelDeps deps{clock_, rate_limiter_.get()};
  RedisTokenCacheOptions token_options;
  token_options.prefix = config_.redis.key_prefix;
  token_cache_ = std::make_unique<RedisTokenCache>(token_options, *pool_, clock_);
  deps.token_cache = token_cache_.get();
  feed_store_ = std::make_unique<RedisFeedStore>(config_.redis.key_prefix, *pool_);
  deps.feed_store = feed_store_.get();
  std::set<std::string> enabled;
  const std::string owner_base = host_name() + ":" + std::to_string(getpid());
  for (const auto& [name, section] : config_.channels) {
    if (!section.enabled) continue;
    auto channel = registry.create(name, section.settings, "channels." + name, deps);
    if (!channel) return channel.error();
    DispatcherOptions dopts;
    dopts.channel = name;
    dopts.owner = owner_base + ":" + name;
    dopts.concurrency = section.concurrency;
    dopts.reserved_for_alerts = section.reserved_for_alerts;
    dopts.redis = redis_options_;
    dopts.pre_publish_check = [this](const Delivery& d) { return gate_delivery(gate_, d); };
    dopts.stats = stats_.get();
    channels_.push_back(std::move(*channel));
    dispatchers_.push_back(std::make_unique<Dispatcher>(dopts, *queue_, *channels_.back(), clock_));
    enabled.insert(name);
  }

  const ReviewPolicy review{config_.review.approvals_required.publication,
                            config_.review.approvals_required.alert,
                            config_.review.accept_cms_approvals};
  api_ = std::make_unique<Api>(
      ApiDeps{*pool_, *items_, *queue_, *auth_, clock_, gate_, *audit_, enabled, review, {}});
  // The feeds are served while the media channel is enabled (its section says what they are).
  if (const auto media = config_.channels.find("media");
      media != config_.channels.end() && media->second.enabled) {
    auto settings = parse_media_settings(media->second.settings, "channels.media");
    if (!settings) return settings.error();
    api_->add_routes(std::make_unique<FeedRoutes>(std::move(*settings), *feed_store_));
  }
  api_->add_routes(std::make_unique<RecallRoutes>(
      RecallDeps{*pool_, *items_, clock_, gate_, enabled, ItemLimits{}}));
  api_->add_routes(std::make_unique<ItemListRoutes>(*pool_, *items_, *queue_,
                                                    config_.office.utc_offset_minutes));
  api_->add_routes(std::make_unique<DeliveryRoutes>(*pool_, *queue_, enabled,
                                                    config_.office.utc_offset_minutes));
  api_->add_routes(std::make_unique<StatsRoutes>(*pool_, *stats_, clock_));
  api_->add_routes(std::make_unique<ReportRoutes>(*pool_, config_.redis.key_prefix,
                                                  config_.office.utc_offset_minutes,
                                                  config_.office.name, clock_));
  http_metrics_ = std::make_unique<HttpMetrics>(metrics_);
  api_->add_routes(std::make_unique<MetricsRoutes>(MetricsSources{
      *pool_, *queue_, enabled, metrics_, clock_,
      [this] {
        std::vector<std::pair<std::string, DispatcherStats>> out;
        // dispatchers_[i] drains channels_[i] (built together above).
        for (std::size_t i = 0; i < dispatchers_.size() && i < channels_.size(); ++i) {
          out.emplace_back(channels_[i]->name(), dispatchers_[i]->stats());
        }
        return out;
      },
      [this] { return token_cache_->refresh_counts(); }}));
  HttpServerOptions so;
  so.listen = config_.http.listen;
  so.max_body_bytes = config_.http.max_body_bytes;
  so.read_timeout = std::chrono::milliseconds(config_.http.read_timeout_ms);
  so.header_timeout = std::chrono::milliseconds(config_.http.header_timeout_ms);
  so.idle_timeout = std::chrono::milliseconds(config_.http.idle_timeout_ms);
  so.max_connections = config_.http.max_connections;
  so.io_threads = config_.http.io_threads;
  so.handler_threads = config_.http.handler_threads;
  server_ = std::make_unique<HttpServer>(so, [this](const ServerRequest& r) {
    const auto started = std::chrono::steady_clock::now();
    ServerResponse response = api_->handle(r);
    http_metrics_->observe(
        r.path, response.status,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return response;
  });

  // Stats queries find a channel's counters through this set (kept after a channel is disabled).
  if (auto conn = pool_->acquire(); !conn) {
    return conn.error();
  } else if (auto registered = stats_->register_channels(**conn, {enabled.begin(), enabled.end()});
             !registered) {
    return registered.error();
  } else if (auto rollups = stats_->build_month_rollups(**conn); !rollups) {
    return rollups.error();
  } else if (*rollups > 0) {
    spdlog::info("built {} month rollup(s) of the counters from their days", *rollups);
  }
  for (auto& d : dispatchers_) d->start();
  recovery_ = std::thread([this] { recovery_loop(); });
  if (auto listening = server_->start(); !listening) return listening;
  spdlog::info("heraldd ready: API on {} port {}, {} channel(s), redis {}", config_.http.listen,
               server_->port(), dispatchers_.size(), redis_url);
  return ok();
}

Result<void> Daemon::reload_gate() {
  auto gate = ContentGate::from_file(config_.gate.blocked_words_file);
  if (!gate) {
    spdlog::error("content gate not reloaded, keeping the {} word(s) in force: {}",
                  gate_.get()->word_count(), gate.error().message);
    return gate.error();
  }
  const std::size_t words = gate->word_count();
  gate_.set(std::move(*gate));
  spdlog::info("content gate reloaded: {} blocked word(s)", words);
  return ok();
}

int Daemon::api_port() const {
  return server_ ? server_->port() : 0;
}

void Daemon::recovery_loop() {
  RedisConnection conn(redis_options_);
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    // A retraction a dead heraldd left half done (its cancels and recalls are idempotent).
    if (auto retracted = items_->recover_retractions(conn, kFanoutGrace); !retracted) {
      spdlog::warn("retraction recovery: {}", retracted.error().message);
    } else if (*retracted > 0) {
      spdlog::info("retraction recovery: finished {} retraction(s)", *retracted);
    }
    auto repaired = items_->recover_fanouts(conn, kFanoutGrace);
    if (!repaired)
      spdlog::warn("fan-out recovery: {}", repaired.error().message);
    else if (*repaired > 0)
      spdlog::info("fan-out recovery: re-queued {} item(s)", *repaired);
    // Item counts a dispatcher acked but did not settle (it died in between).
    for (const auto& channel : channels_) {
      auto settled = stats_->settle_first_publications(conn, channel->name(), kFanoutGrace);
      if (!settled)
        spdlog::warn("item count recovery on {}: {}", channel->name(), settled.error().message);
      else if (*settled > 0)
        spdlog::info("item count recovery on {}: settled {}", channel->name(), *settled);
    }
    lock.lock();
    stop_cv_.wait_for(lock, kRecoveryInterval, [this] { return stopping_; });
  }
}

void Daemon::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (server_) server_->stop();
  // In parallel, so a shutdown waits for one drain, not one per channel.
  std::vector<std::thread> stopping;
  for (auto& d : dispatchers_) stopping.emplace_back([&d] { d->stop(); });
  for (auto& t : stopping) t.join();
  if (recovery_.joinable()) recovery_.join();
  dispatchers_.clear();
  if (embedded_redis_) embedded_redis_->stop();
}

}  // namespace herald
