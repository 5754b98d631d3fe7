#include "services/heraldd/daemon.h"

#include <unistd.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <cstdlib>
#include <thread>
#include <vector>

#include "services/common/run_guarded.h"
#include "services/heraldd/console_routes.h"
#include "services/heraldd/delivery_routes.h"
#include "services/heraldd/feed_routes.h"
#include "services/heraldd/item_events.h"
#include "services/heraldd/item_list_routes.h"
#include "services/heraldd/preview_routes.h"
#include "services/heraldd/recall_routes.h"
#include "services/heraldd/report_routes.h"
#include "services/heraldd/stats_routes.h"
#include "services/heraldd/systemd_notify.h"

namespace herald {
namespace {

// A fan-out pending this long is taken to belong to a heraldd that died before finishing it.
constexpr std::chrono::milliseconds kFanoutGrace{10000};
// Recovery repairs what a heraldd that died left behind, so it has nothing to do nearly always:
// an idle pass costs a few commands, and runs this often. A pass that repaired something, or
// could not look, comes again sooner: there may be more (a pass takes at most 100 of a kind).
constexpr std::chrono::milliseconds kRecoveryIdleInterval{20000};
constexpr std::chrono::milliseconds kRecoveryBusyInterval{5000};

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
  // The whole payload, extras included: every field of it reaches some channel.
  const GateVerdict verdict = gate.get()->check_json(payload);
  if (verdict.allowed) return ok();
  return fail("held by the content gate (" + verdict.code + "): " + verdict.message);
}

// Feeds face the internet and the API must not: the API listener does not serve them, and says
// where they are instead of a bare "no such route".
ServerResponse feeds_elsewhere(const std::string& path, const std::string& public_listen) {
  return ServerResponse::error(404, "not_found",
                               path + " is served by the public listener (http.public.listen, " +
                                   public_listen + "), not by the API listener");
}

HttpServerOptions server_options(const HttpConfig& http) {
  HttpServerOptions so;
  so.listen = http.listen;
  so.max_body_bytes = http.max_body_bytes;
  // Never below the configured cap: a batch of one item must fit wherever one item fits.
  so.max_body_bytes_by_path.emplace_back(std::string(kItemsBatchPath),
                                         std::max(http.max_body_bytes, kItemsBatchMaxBodyBytes));
  so.read_timeout = std::chrono::milliseconds(http.read_timeout_ms);
  so.header_timeout = std::chrono::milliseconds(http.header_timeout_ms);
  so.idle_timeout = std::chrono::milliseconds(http.idle_timeout_ms);
  so.max_connections = static_cast<std::size_t>(http.max_connections);
  so.max_connections_per_client = static_cast<std::size_t>(http.max_connections_per_client);
  so.io_threads = http.io_threads;
  so.handler_threads = http.handler_threads;
  return so;
}

HttpServerOptions public_server_options(const PublicHttpConfig& pub) {
  HttpServerOptions so;
  so.listen = pub.listen;
  // Only GETs come here: a body of any size is not something a feed reader sends.
  so.max_body_bytes = 1024;
  so.max_header_bytes = 8 * 1024;
  so.read_timeout = std::chrono::milliseconds(pub.read_timeout_ms);
  so.header_timeout = std::chrono::milliseconds(pub.header_timeout_ms);
  so.idle_timeout = std::chrono::milliseconds(pub.idle_timeout_ms);
  so.max_connections = static_cast<std::size_t>(pub.max_connections);
  so.max_connections_per_client = static_cast<std::size_t>(pub.max_connections_per_client);
  so.io_threads = pub.io_threads;
  so.handler_threads = pub.handler_threads;
  return so;
}

std::string host_name() {
  char buf[256] = {0};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

}  // namespace

Daemon::Daemon(Config config, const ChannelRegistry& channels)
    : config_(std::move(config)), registry_(channels) {}

Daemon::~Daemon() {
  stop();
}

Result<void> Daemon::start() {
  if (auto ready = set_up_redis(); !ready) return ready;
  build_stores();
  if (auto loaded = load_gate(); !loaded) return loaded;
  build_authenticator();
  if (auto built = build_channels_and_dispatchers(); !built) return built;
  build_api();
  if (auto built = build_public_feeds(); !built) return built;
  build_listeners();
  // Redis first, so that when it is there the API never answers "not ready" once it listens.
  auto finished = finish_startup();
  // Redis not reachable (yet): heraldd comes up anyway and keeps trying, so that a Redis restarted
  // after heraldd, or started later by its unit, needs no restart of heraldd. Any other refusal
  // (a wrong password, a key of the wrong type) is a mistake to fix: exit as before.
  if (!finished && finished.error().kind != ErrorKind::retryable) return finished;
  if (auto listening = start_listeners(); !listening) return listening;
  if (finished) {
    spdlog::info("heraldd ready: API on {} port {}, feeds on {} port {}, {} channel(s), redis {}",
                 config_.http.listen, server_->port(), config_.http.public_listener.listen,
                 public_server_->port(), dispatchers_.size(), redis_where_);
    systemd::notify_ready(ready_status());
    return ok();
  }
  keep_trying_redis(finished.error());
  return ok();
}

Result<void> Daemon::set_up_redis() {
  std::string redis_url = config_.redis.url;
  if (redis_url == "embedded") {
    EmbeddedRedisOptions eo;
    eo.binary = config_.redis.embedded.binary;
    eo.data_dir = config_.data_dir;
    eo.appendonly = config_.redis.embedded.appendonly;
    embedded_redis_ = std::make_unique<EmbeddedRedis>(eo);
    if (auto started = embedded_redis_->start(); !started) return started;
    redis_url = embedded_redis_->url();
  }
  redis_options_.url = redis_url;
  redis_options_.username = config_.redis.username;
  redis_options_.password = embedded_redis_ ? embedded_redis_->password() : config_.redis.password;
  redis_options_.connect_timeout = std::chrono::milliseconds(config_.redis.connect_timeout_ms);
  redis_options_.command_timeout = std::chrono::milliseconds(config_.redis.command_timeout_ms);
  redis_options_.wait_replicas = config_.redis.wait_replicas;
  redis_options_.wait_timeout = std::chrono::milliseconds(config_.redis.wait_timeout_ms);
  if (auto endpoint = parse_redis_url(redis_url); endpoint) {
    redis_where_ = endpoint->describe();
  } else {
    return endpoint.error();
  }
  pool_ = std::make_unique<RedisPool>(redis_options_, config_.redis.pool_size);
  return ok();
}

void Daemon::build_stores() {
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
  std::set<std::string> drills_withheld;
  for (const auto& [name, channel] : config_.channels) {
    if (channel.drills == "withheld") drills_withheld.insert(name);
  }
  items_->withhold_drills_on(std::move(drills_withheld));
  audit_ = std::make_unique<AuditLog>(config_.redis.key_prefix);
  stats_ =
      std::make_unique<StatsStore>(config_.redis.key_prefix, config_.office.utc_offset_minutes);
}

Result<void> Daemon::load_gate() {
  auto gate = ContentGate::from_file(config_.gate.blocked_words_file);
  if (!gate) return gate.error();
  gate_.set(std::move(*gate));
  spdlog::info("content gate: {} blocked word(s)", gate_.get()->word_count());
  return ok();
}

void Daemon::build_authenticator() {
  std::vector<AuthUser> users;
  for (const auto& u : config_.auth.users) {
    users.push_back(
        {u.name, std::set<std::string>(u.roles.begin(), u.roles.end()), u.token_sha256});
  }
  auth_ = std::make_unique<Authenticator>(std::move(users));
}

Result<void> Daemon::build_channels_and_dispatchers() {
  // Channels: each factory validates its own section; a bad one stops start-up with its key.
  rate_limiter_ = std::make_unique<RedisRateLimiter>(config_.redis.key_prefix, *pool_, clock_);
  outbound_ = std::make_unique<OutboundIo>();
  ChannelDeps deps{clock_, rate_limiter_.get()};
  deps.io = outbound_.get();
  RedisTokenCacheOptions token_options;
  token_options.prefix = config_.redis.key_prefix;
  token_cache_ = std::make_unique<RedisTokenCache>(token_options, *pool_, clock_);
  deps.token_cache = token_cache_.get();
  feed_store_ = std::make_unique<RedisFeedStore>(config_.redis.key_prefix, *pool_);
  deps.feed_store = feed_store_.get();
  const std::string owner_base = host_name() + ":" + std::to_string(getpid());
  for (const auto& [name, section] : config_.channels) {
    if (!section.enabled) continue;
    auto channel = registry_.create(name, section.settings, "channels." + name, deps);
    if (!channel) return channel.error();
    DispatcherOptions dopts;
    dopts.channel = name;
    dopts.owner = owner_base + ":" + name;
    dopts.concurrency = section.concurrency;
    dopts.reserved_for_alerts = section.reserved_for_alerts;
    dopts.defer_limits.rate_limit = std::chrono::milliseconds(section.defer_rate_limit_max_ms);
    dopts.defer_limits.processing = std::chrono::milliseconds(section.defer_processing_max_ms);
    dopts.redis = redis_options_;
    dopts.pre_publish_check = [this](const Delivery& d) { return gate_delivery(gate_, d); };
    dopts.load_payloads = [this](RedisConnection& conn, std::vector<Delivery>& claimed) {
      return items_->load_payloads(conn, claimed);
    };
    dopts.stats = stats_.get();
    channels_.push_back(std::move(*channel));
    dispatchers_.push_back(std::make_unique<Dispatcher>(dopts, *queue_, *channels_.back()));
  }
  return ok();
}

std::set<std::string> Daemon::enabled_channels() const {
  std::set<std::string> enabled;
  for (const auto& channel : channels_) enabled.insert(channel->name());
  return enabled;
}

void Daemon::build_api() {
  const std::set<std::string> enabled = enabled_channels();
  ReviewPolicy review;
  review.publication = config_.review.approvals_required.publication;
  review.alert = config_.review.approvals_required.alert;
  review.accept_cms_approvals = config_.review.accept_cms_approvals;
  for (const auto& cms : config_.review.cms) {
    review.cms.push_back({cms.name, cms.publisher_user, cms.hmac_key});
  }
  review.cms_alerts_accepted = config_.review.cms_alerts == "accepted";
  for (const auto& u : config_.auth.users) {
    if (std::find(u.roles.begin(), u.roles.end(), "reviewer") != u.roles.end()) {
      review.reviewers.push_back(u.name);
    }
  }
  if (config_.notify.enabled()) {
    review_outbox_ = std::make_unique<ReviewOutbox>(config_.redis.key_prefix);
  }
  ApiDeps deps{*pool_, *items_, *queue_, *auth_, clock_, gate_, *audit_, enabled, review, {}};
  deps.review_outbox = review_outbox_.get();
  api_ = std::make_unique<Api>(std::move(deps));
  api_->add_routes(std::make_unique<ItemEventRoutes>(
      [api = api_.get()](const std::string& id) { return api->show_item(id); }));
  api_->add_routes(std::make_unique<RecallRoutes>(
      RecallDeps{*pool_, *items_, clock_, gate_, enabled, ItemLimits{}}));
  api_->add_routes(std::make_unique<ItemListRoutes>(*pool_, *items_, *queue_,
                                                    config_.office.utc_offset_minutes));
  api_->add_routes(std::make_unique<DeliveryRoutes>(*pool_, *queue_, enabled,
                                                    config_.office.utc_offset_minutes));
  std::vector<Channel*> listable;
  for (const auto& channel : channels_) listable.push_back(channel.get());
  const auto audit_retention =
      std::chrono::duration_cast<std::chrono::seconds>(queue_->options().audit_retention);
  reconciler_ = std::make_unique<PlatformReconciler>(
      std::move(listable),
      PlatformLedger(config_.redis.key_prefix, config_.office.utc_offset_minutes, audit_retention),
      *stats_, clock_, config_.office.utc_offset_minutes);
  std::set<std::string> import_channels = enabled;
  import_channels.insert(config_.import.historic_channels.begin(),
                         config_.import.historic_channels.end());
  api_->add_routes(std::make_unique<StatsRoutes>(*pool_, *stats_, clock_, reconciler_.get(),
                                                 std::move(import_channels)));
  report::CategoryMap report_categories = report::default_category_map();
  if (!config_.report.categories.empty()) {
    report_categories.includes.assign(config_.report.categories.begin(),
                                      config_.report.categories.end());
  }
  api_->add_routes(std::make_unique<ReportRoutes>(
      *pool_, config_.redis.key_prefix, config_.office.utc_offset_minutes, config_.office.name,
      clock_, std::move(report_categories)));
  http_metrics_ = std::make_unique<HttpMetrics>(metrics_);
  api_->add_routes(std::make_unique<MetricsRoutes>(MetricsSources{
      *pool_, *queue_, enabled, metrics_, clock_,
      [this] {
        std::vector<std::pair<std::string, DispatcherStats>> out;
        // dispatchers_[i] drains channels_[i] (built together in build_channels_and_dispatchers).
        for (std::size_t i = 0; i < dispatchers_.size() && i < channels_.size(); ++i) {
          out.emplace_back(channels_[i]->name(), dispatchers_[i]->stats());
        }
        return out;
      },
      [this] { return token_cache_->refresh_counts(); }}));
  std::map<std::string, nlohmann::json> channel_settings;
  for (const auto& name : enabled) channel_settings[name] = config_.channels.at(name).settings;
  api_->add_routes(std::make_unique<PreviewRoutes>(PreviewDeps{
      gate_, clock_, enabled, std::move(channel_settings), config_.office.name, ItemLimits{}}));
  build_console();
}

void Daemon::build_console() {
  // HERALD_CONSOLE_DIR points an installed heraldd at its copy of services/console; without the
  // files heraldd serves the API alone.
  const char* dir = std::getenv("HERALD_CONSOLE_DIR");
  ConsoleOptions options{dir != nullptr ? dir : HERALD_CONSOLE_DEFAULT_DIR,
                         config_.redis.key_prefix, std::chrono::hours(8), enabled_channels()};
  console_ = std::make_unique<Console>(
      std::move(options), *pool_, *auth_,
      [this](const ServerRequest& r, const AuthUser* user) { return api_->handle(r, user); });
  if (auto loaded = console_->load(); !loaded) {
    spdlog::warn("web console not served: {}", loaded.error().message);
  }
}

Result<void> Daemon::build_public_feeds() {
  // The feeds are served while the media channel is enabled (its section says what they are),
  // by the public listener only.
  const PublicHttpConfig& pub = config_.http.public_listener;
  public_pool_ = std::make_unique<RedisPool>(redis_options_, pub.handler_threads);
  public_feed_store_ = std::make_unique<RedisFeedStore>(config_.redis.key_prefix, *public_pool_);
  if (const auto media = config_.channels.find("media");
      media != config_.channels.end() && media->second.enabled) {
    auto settings = parse_media_settings(media->second.settings, "channels.media");
    if (!settings) return settings.error();
    feed_routes_ = std::make_unique<FeedRoutes>(std::move(*settings), *public_feed_store_,
                                                std::chrono::milliseconds(pub.cache_ms));
  }
  return ok();
}

void Daemon::build_listeners() {
  // Two servers, each with its own acceptor, I/O thread(s), handler pool and connection caps: a
  // flood of the public listener (slow or idle connections, or requests) holds none of what the
  // API needs.
  server_ =
      std::make_unique<HttpServer>(server_options(config_.http), [this](const ServerRequest& r) {
        const auto started = std::chrono::steady_clock::now();
        ServerResponse response;
        if (r.path.rfind("/feeds/", 0) == 0) {
          response = feeds_elsewhere(r.path, config_.http.public_listener.listen);
        } else if (ready_.load() || r.path == "/healthz") {
          response = console_->handle(r);
        } else {
          // Until Redis has been reached nothing but liveness can be answered truthfully.
          response = not_ready_response();
        }
        http_metrics_->observe(
            r.path, response.status,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        return response;
      });
  public_server_ =
      std::make_unique<HttpServer>(public_server_options(config_.http.public_listener),
                                   [this](const ServerRequest& r) { return handle_public(r); });
}

Result<void> Daemon::start_listeners() {
  if (auto listening = server_->start(); !listening) return listening;
  if (auto listening = public_server_->start(); !listening) {
    Error error = listening.error();
    error.field = "http.public.listen";
    return error;
  }
  return ok();
}

void Daemon::keep_trying_redis(const Error& first_error) {
  {
    std::lock_guard lock(mutex_);
    startup_error_ = first_error.message;
  }
  spdlog::warn(
      "redis {} not reachable ({}); API on {} port {} answers 503 until it is, retrying in the "
      "background",
      redis_where_, first_error.message, config_.http.listen, server_->port());
  systemd::notify_status("waiting for redis " + redis_where_ + ": " + first_error.message);
  // A start-up that failed half way (dispatchers started, say) cannot be tried again safely:
  // heraldd stops instead.
  startup_ = std::thread([this] {
    run_guarded(
        "start-up", [this] { startup_loop(); },
        [this](const ThreadFailure& failure) {
          fail("start-up failed: " + failure.what);
          return AfterThrow::stop;
        });
  });
}

Result<void> Daemon::finish_startup() {
  RedisConnection conn(redis_options_);  // fresh: no reconnect backoff left from a failed attempt
  if (auto reached = ping_redis(conn); !reached) return reached;
  if (auto prepared = prepare_stats(conn); !prepared) return prepared;
  if (auto started = start_background_work(); !started) return started;
  ready_ = true;
  return ok();
}

Result<void> Daemon::ping_redis(RedisConnection& conn) {
  auto pong = conn.command({"PING"});
  if (!pong) return pong.error();
  if (pong->is_error()) return error_from_reply(*pong, "PING on redis " + redis_where_);
  return ok();
}

Result<void> Daemon::prepare_stats(RedisConnection& conn) {
  std::vector<std::string> enabled;
  for (const auto& channel : channels_) enabled.push_back(channel->name());
  // Stats queries find a channel's counters through this set (kept after a channel is disabled).
  if (auto registered = stats_->register_channels(conn, enabled); !registered) {
    return registered.error();
  }
  auto rollups = stats_->build_month_rollups(conn);
  if (!rollups) return rollups.error();
  if (*rollups > 0) {
    spdlog::info("built {} month rollup(s) of the counters from their days", *rollups);
  }
  return ok();
}

Result<void> Daemon::start_background_work() {
  std::lock_guard lock(mutex_);
  if (stopping_) return Error::permanent("heraldd is stopping");
  for (auto& d : dispatchers_) d->start();
  start_notifier();
  // Each pass of the recovery loop starts from Redis's state alone, so after a failure the loop
  // simply runs again.
  recovery_ = std::thread([this] {
    run_guarded(
        "recovery", [this] { recovery_loop(); },
        [this](const ThreadFailure& failure) {
          return pause_before_restart(restart_backoff(failure.failures));
        });
  });
  return ok();
}

void Daemon::start_notifier() {
  if (!config_.notify.enabled()) return;
  notifier_ = std::make_unique<Notifier>(config_.notify, config_.console_public_url,
                                         config_.redis.key_prefix, redis_options_);
  // Entries live in Redis, so a loop that threw simply starts again with a fresh connection.
  notifier_thread_ = std::thread([this] {
    run_guarded(
        "notifier", [this] { notifier_->run(); },
        [this](const ThreadFailure& failure) {
          return pause_before_restart(restart_backoff(failure.failures));
        });
  });
}

AfterThrow Daemon::pause_before_restart(std::chrono::milliseconds pause) {
  std::unique_lock lock(mutex_);
  if (stop_cv_.wait_for(lock, pause, [this] { return stopping_; })) return AfterThrow::stop;
  return AfterThrow::restart;
}

void Daemon::on_fatal(std::function<void()> handler) {
  std::lock_guard lock(mutex_);
  on_fatal_ = std::move(handler);
}

std::optional<std::string> Daemon::failure() const {
  std::lock_guard lock(mutex_);
  return failure_;
}

void Daemon::fail(const std::string& why) {
  std::function<void()> handler;
  {
    std::lock_guard lock(mutex_);
    if (failure_) return;  // the first failure is the one to report
    failure_ = why;
    handler = on_fatal_;
  }
  spdlog::error("heraldd must stop: {}", why);
  if (handler) handler();
}

void Daemon::startup_loop() {
  using std::chrono::milliseconds;
  // Short at first (Redis is often just starting too), then capped so a long outage costs one
  // connect attempt, each bounded by redis.connect_timeout_ms, every couple of seconds.
  constexpr milliseconds kMaxBackoff{2000};
  // One warning per distinct error, and a reminder this often while it lasts: not one per try.
  constexpr std::chrono::seconds kRemindEvery{30};
  milliseconds backoff{100};
  const auto began = std::chrono::steady_clock::now();
  auto last_logged = began;
  int attempts = 1;
  std::unique_lock lock(mutex_);
  std::string logged = startup_error_;
  while (!stopping_) {
    if (stop_cv_.wait_for(lock, backoff, [this] { return stopping_; })) return;
    lock.unlock();
    ++attempts;
    auto finished = finish_startup();
    lock.lock();
    const auto now = std::chrono::steady_clock::now();
    const auto waited = std::chrono::duration_cast<std::chrono::seconds>(now - began).count();
    if (finished) {
      spdlog::info(
          "redis {} reached after {} attempt(s) in {} s; start-up finished, heraldd ready: API on "
          "{} port {}, feeds on {} port {}, {} channel(s)",
          redis_where_, attempts, waited, config_.http.listen, server_->port(),
          config_.http.public_listener.listen, public_server_->port(), dispatchers_.size());
      systemd::notify_ready(ready_status());
      return;
    }
    startup_error_ = finished.error().message;
    if (startup_error_ != logged || now - last_logged >= kRemindEvery) {
      spdlog::warn("redis {} still not reachable after {} attempt(s) in {} s: {}", redis_where_,
                   attempts, waited, startup_error_);
      logged = startup_error_;
      last_logged = now;
      systemd::notify_status("waiting for redis " + redis_where_ + ": " + startup_error_);
    }
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

ServerResponse Daemon::handle_public(const ServerRequest& r) {
  const auto started = std::chrono::steady_clock::now();
  ServerResponse response;
  if (r.path == "/healthz") {
    response = ServerResponse::json(200, R"({"status":"ok"})");
  } else if (r.path.rfind("/feeds/", 0) != 0) {
    response = ServerResponse::error(
        404, "not_found",
        "no such route: " + r.path + " (this is the public listener: it serves /feeds/ only)");
  } else if (!feed_routes_) {
    response =
        ServerResponse::error(404, "not_found", "no feeds: the media channel is not enabled");
  } else if (!ready_.load()) {
    response = not_ready_response();
  } else {
    response = *feed_routes_->handle(r, nullptr);
  }
  http_metrics_->observe(
      r.path, response.status,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return response;
}

std::string Daemon::ready_status() const {
  return "ready: API on port " + std::to_string(server_->port()) + ", feeds on port " +
         std::to_string(public_server_->port()) + ", " + std::to_string(dispatchers_.size()) +
         " channel(s), redis " + redis_where_;
}

ServerResponse Daemon::not_ready_response() {
  std::string why;
  {
    std::lock_guard lock(mutex_);
    why = startup_error_;
  }
  return ServerResponse::error(
      503, "unavailable",
      "Redis at " + redis_where_ +
          " is not reachable, so heraldd has not finished starting; it keeps trying" +
          (why.empty() ? std::string() : " (last error: " + why + ")"));
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

int Daemon::public_port() const {
  return public_server_ ? public_server_->port() : 0;
}

void Daemon::recovery_loop() {
  RedisConnection conn(redis_options_);
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    const bool busy = recover_once(conn);
    lock.lock();
    stop_cv_.wait_for(lock, busy ? kRecoveryBusyInterval : kRecoveryIdleInterval,
                      [this] { return stopping_; });
  }
}

bool Daemon::recover_once(RedisConnection& conn) {
  bool busy = false;
  // A retraction a dead heraldd left half done (its cancels and recalls are idempotent).
  if (auto retracted = items_->recover_retractions(conn, kFanoutGrace); !retracted) {
    spdlog::warn("retraction recovery: {}", retracted.error().message);
    busy = true;
  } else if (*retracted > 0) {
    spdlog::info("retraction recovery: finished {} retraction(s)", *retracted);
    busy = true;
  }
  auto repaired = items_->recover_fanouts(conn, kFanoutGrace);
  if (!repaired) {
    spdlog::warn("fan-out recovery: {}", repaired.error().message);
    busy = true;
  } else if (*repaired > 0) {
    spdlog::info("fan-out recovery: re-queued {} item(s)", *repaired);
    busy = true;
  }
  // Item counts a dispatcher acked but did not settle (it died in between).
  for (const auto& channel : channels_) {
    auto settled = stats_->settle_first_publications(conn, channel->name(), kFanoutGrace);
    if (!settled) {
      spdlog::warn("item count recovery on {}: {}", channel->name(), settled.error().message);
      busy = true;
    } else if (*settled > 0) {
      spdlog::info("item count recovery on {}: settled {}", channel->name(), *settled);
      busy = true;
    }
  }
  return busy;
}

void Daemon::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (startup_.joinable()) startup_.join();  // at most one attempt's timeouts away
  if (public_server_) public_server_->stop();
  if (server_) server_->stop();
  // In parallel, so a shutdown waits for one drain, not one per channel.
  std::vector<std::thread> stopping;
  for (auto& d : dispatchers_) {
    stopping.emplace_back([&d] {
      // A drain that throws leaves its leases to expire: nothing to retry, the others go on.
      run_guarded(
          "dispatcher stop", [&d] { d->stop(); },
          [](const ThreadFailure&) { return AfterThrow::stop; });
    });
  }
  for (auto& t : stopping) t.join();
  if (recovery_.joinable()) recovery_.join();
  if (notifier_) notifier_->stop();
  if (notifier_thread_.joinable()) notifier_thread_.join();
  dispatchers_.clear();
  if (embedded_redis_) embedded_redis_->stop();
}

}  // namespace herald
