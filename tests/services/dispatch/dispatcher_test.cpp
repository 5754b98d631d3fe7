// Dispatcher tests: a real redis-server and the real DeliveryQueue, with a fake Channel that
// records every call and can be told to fail, to block on a gate, or to succeed.
#include "services/dispatch/dispatcher.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/enum_printers.h"
#include "tests/support/gate.h"
#include "tests/support/log_capture.h"
#include "tests/support/process.h"
#include "tests/support/redis_server.h"

namespace herald {
namespace {

using namespace std::chrono_literals;
using test::Gate;
using test::wait_until;

constexpr std::chrono::milliseconds kDeadline = 30s;
const std::string kChannel = "fake";

// What the fake answers to the n-th call (1-based) for a delivery.
using Behaviour = std::function<Result<PublishReceipt>(const Delivery&, int call)>;

Result<PublishReceipt> succeed(const Delivery& d) {
  return PublishReceipt{"remote-" + d.id};
}

// A platform's error as an adapter reports it: a kind, a message and the platform's own code.
Error platform_error(ErrorKind kind, std::string message, std::string code,
                     std::optional<std::chrono::milliseconds> retry_after = std::nullopt) {
  Error e(kind, std::move(message));
  e.code = std::move(code);
  e.retry_after = retry_after;
  return e;
}

class FakeChannel final : public Channel {
 public:
  FakeChannel() : Channel(kChannel) {}

  void set_behaviour(Behaviour behaviour) {
    std::lock_guard lock(mutex_);
    behaviour_ = std::move(behaviour);
  }
  int calls(const std::string& id) const {
    std::lock_guard lock(mutex_);
    auto it = calls_.find(id);
    return it == calls_.end() ? 0 : it->second;
  }
  std::map<std::string, int> calls_by_id() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  int running() const {
    std::lock_guard lock(mutex_);
    return running_;
  }
  int max_running(Lane lane) const {
    std::lock_guard lock(mutex_);
    return lane == Lane::alert ? max_running_alert_ : max_running_routine_;
  }
  std::vector<std::string> started() const {
    std::lock_guard lock(mutex_);
    return started_;
  }
  // What a read-back on the "platform" finds (default: resend is safe, as for a webhook).
  void set_lookup(std::function<Result<Lookup>(const Delivery&)> lookup) {
    std::lock_guard lock(mutex_);
    lookup_ = std::move(lookup);
  }
  int lookups() const {
    std::lock_guard lock(mutex_);
    return lookups_;
  }

 protected:
  // Behaviours may block (a test's gate): off the loop, as a channel's blocking work.
  herald::Task<Result<PublishReceipt>> do_publish(const Delivery& d) override {
    co_return co_await io().offload([&] { return publish_blocking(d); });
  }
  herald::Task<Result<Lookup>> do_lookup(const Delivery& d) override {
    co_return co_await io().offload([&] { return lookup_blocking(d); });
  }

 private:
  Result<PublishReceipt> publish_blocking(const Delivery& d) {
    Behaviour behaviour;
    int call = 0;
    {
      std::lock_guard lock(mutex_);
      call = ++calls_[d.id];
      ++running_;
      int& lane_running = d.lane == Lane::alert ? running_alert_ : running_routine_;
      int& lane_max = d.lane == Lane::alert ? max_running_alert_ : max_running_routine_;
      lane_max = std::max(lane_max, ++lane_running);
      started_.push_back(d.id);
      behaviour = behaviour_;
    }
    Result<PublishReceipt> result = behaviour ? behaviour(d, call) : succeed(d);
    {
      std::lock_guard lock(mutex_);
      --running_;
      --(d.lane == Lane::alert ? running_alert_ : running_routine_);
    }
    return result;
  }
  Result<Lookup> lookup_blocking(const Delivery& d) {
    std::function<Result<Lookup>(const Delivery&)> lookup;
    {
      std::lock_guard lock(mutex_);
      ++lookups_;
      lookup = lookup_;
    }
    if (lookup) return lookup(d);
    return Lookup{LookupState::resend_is_safe, {}};  // the default: a webhook's resend is safe
  }

  mutable std::mutex mutex_;
  Behaviour behaviour_;
  std::function<Result<Lookup>(const Delivery&)> lookup_;
  int lookups_ = 0;
  std::map<std::string, int> calls_;
  std::vector<std::string> started_;
  int running_ = 0, running_alert_ = 0, running_routine_ = 0;
  int max_running_alert_ = 0, max_running_routine_ = 0;
};

QueueOptions fast_queue_options() {
  QueueOptions q;
  q.prefix = test::unique_key_prefix("dispatch");
  q.retry_base = 10ms;
  q.retry_max = 50ms;
  q.idle_block = 1s;
  return q;
}

RedisOptions redis_options(const std::string& url) {
  RedisOptions r;
  r.url = url;
  return r;
}

long long info_field(RedisConnection& conn, const std::string& section, const std::string& field) {
  auto info = conn.command({"INFO", section});
  REQUIRE(info);
  const std::string& text = info->str;
  auto at = text.find(field + ":");
  REQUIRE(at != std::string::npos);
  return std::stoll(text.substr(at + field.size() + 1));
}

// Calls of one command so far ("cmdstat_<name>:calls=N" in INFO commandstats; 0 if never called).
long long command_calls(RedisConnection& conn, const std::string& name) {
  auto info = conn.command({"INFO", "commandstats"});
  REQUIRE(info);
  const std::string needle = "cmdstat_" + name + ":calls=";
  auto at = info->str.find(needle);
  return at == std::string::npos ? 0 : std::stoll(info->str.substr(at + needle.size()));
}

struct Harness {
  explicit Harness(QueueOptions q = fast_queue_options(), std::string url = test::test_redis_url())
      : queue(q, clock), redis(redis_options(url)), conn(redis) {}

  DispatcherOptions options(std::string owner = "", int concurrency = 4, int reserved = 1) const {
    DispatcherOptions o;
    o.channel = kChannel;
    o.owner = std::move(owner);
    o.concurrency = concurrency;
    o.reserved_for_alerts = reserved;
    o.redis = redis;
    return o;
  }

  // Queues `count` deliveries of new items "<tag>-<n>"; returns their delivery ids.
  std::vector<std::string> enqueue(const std::string& tag, int count, Lane lane) {
    std::vector<NewDelivery> batch;
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
      NewDelivery nd;
      Delivery& d = nd.delivery;
      d.item_id = tag + "-" + std::to_string(i);
      d.channel = kChannel;
      d.id = delivery_id_for(d.item_id, kChannel);
      d.lane = lane;
      d.kind =
          lane == Lane::alert ? herald::DeliveryKind::alert : herald::DeliveryKind::publication;
      d.category = lane == Lane::alert ? "overseas_safety" : "work_news";
      d.payload = R"({"title":"t"})";
      ids.push_back(d.id);
      batch.push_back(std::move(nd));
    }
    auto added = queue.enqueue(conn, batch);
    REQUIRE(added);
    REQUIRE(*added == count);
    return ids;
  }

  DeliveryRecord record(const std::string& id) {
    auto r = queue.get(conn, id);
    REQUIRE(r);
    REQUIRE(r->has_value());
    return **r;
  }

  long long tally_total(const std::string& kind = "") {
    long long total = 0;
    std::set<int> years = {std::stoi(tally_day(clock.now(), queue.options().utc_offset_minutes)),
                           std::stoi(tally_day(clock.now() - 1h, 480))};
    for (int year : years) {
      auto tally = queue.read_tally(conn, kChannel, year);
      REQUIRE(tally);
      for (const auto& [key, count] : *tally) {
        const std::string suffix = "|" + kind;
        if (kind.empty() || (key.size() >= suffix.size() &&
                             key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0)) {
          total += count;
        }
      }
    }
    return total;
  }

  SystemClock clock;
  DeliveryQueue queue;
  RedisOptions redis;
  RedisConnection conn;
  FakeChannel channel;
};

// Waits until `ids` are all published, stops `d`, then checks each was published exactly once,
// acked with its remote id and tallied once.
void require_each_published_once(Harness& h, Dispatcher& d, const std::vector<std::string>& ids,
                                 long long alerts) {
  REQUIRE(wait_until([&] { return d.stats().published == ids.size(); }, kDeadline));
  d.stop();
  auto calls = h.channel.calls_by_id();
  CHECK(calls.size() == ids.size());
  for (const auto& id : ids) {
    CHECK(calls[id] == 1);
    auto rec = h.record(id);
    CHECK(rec.state == DeliveryState::published);
    CHECK(rec.remote_id == "remote-" + id);
    CHECK(rec.attempts == 1);
  }
  CHECK(h.tally_total() == static_cast<long long>(ids.size()));
  CHECK(h.tally_total("alert") == alerts);
  auto stats = d.stats();
  CHECK(stats.claimed == ids.size());
  CHECK(stats.published == ids.size());
  CHECK(stats.in_flight == 0);
  CHECK(stats.stale == 0);
}

std::vector<std::string> enqueue_mixed(Harness& h, const std::string& tag) {
  auto ids = h.enqueue(tag, 40, Lane::routine);
  auto alerts = h.enqueue(tag + "-alert", 10, Lane::alert);
  ids.insert(ids.end(), alerts.begin(), alerts.end());
  return ids;
}

TEST_CASE("a dispatcher publishes every queued delivery exactly once and tallies it once",
          "[dispatch]") {
  SECTION("deliveries queued before it starts") {
    Harness h;
    auto ids = enqueue_mixed(h, "before");
    Dispatcher d(h.options(), h.queue, h.channel);
    d.start();
    require_each_published_once(h, d, ids, 10);
  }
  SECTION("deliveries queued while it is blocked in Redis with nothing to do") {
    // Its own server, so that the blocked client counted is the dispatcher; idle_block far beyond
    // the deadline, so only the wake-up can get these published in time.
    test::OwnRedisServer redis;
    QueueOptions q = fast_queue_options();
    q.idle_block = 10min;
    Harness h(q, redis.url());
    Dispatcher d(h.options(), h.queue, h.channel);
    d.start();
    REQUIRE(wait_until([&] { return info_field(h.conn, "clients", "blocked_clients") == 1; },
                       kDeadline));
    auto ids = enqueue_mixed(h, "idle");
    require_each_published_once(h, d, ids, 10);
  }
}

TEST_CASE("alerts waiting at the same time as routine work are published first", "[dispatch]") {
  Harness h;
  h.enqueue("routine", 5, Lane::routine);
  auto alerts = h.enqueue("alert", 3, Lane::alert);
  // One slot: every claim takes one delivery, and the alert lane must be empty before routine.
  Dispatcher d(h.options("", 1, 0), h.queue, h.channel);
  d.start();
  REQUIRE(wait_until([&] { return d.stats().published == 8; }, kDeadline));
  d.stop();
  auto started = h.channel.started();
  REQUIRE(started.size() == 8);
  CHECK(std::set<std::string>(started.begin(), started.begin() + 3) ==
        std::set<std::string>(alerts.begin(), alerts.end()));
}

TEST_CASE("a retryable failure is retried later and then published", "[dispatch]") {
  Harness h;
  Error failure;
  SECTION("a transient error") {
    failure = Error::retryable("502 from platform");
  }
  SECTION("an expired token (no refresh yet: retried like a transient error)") {
    failure = platform_error(ErrorKind::credentials, "access_token expired", "40001");
  }
  h.channel.set_behaviour([&](const Delivery& d, int call) -> Result<PublishReceipt> {
    if (call <= 2) return failure;
    return succeed(d);
  });
  auto ids = h.enqueue("retry", 1, Lane::routine);
  Dispatcher d(h.options(), h.queue, h.channel);
  d.start();
  REQUIRE(wait_until([&] { return d.stats().published == 1; }, kDeadline));
  d.stop();
  CHECK(h.channel.calls(ids[0]) == 3);
  auto rec = h.record(ids[0]);
  CHECK(rec.state == DeliveryState::published);
  CHECK(rec.attempts == 3);
  CHECK(d.stats().retried == 2);
  CHECK(d.stats().dead == 0);
  CHECK(h.tally_total() == 1);
}

TEST_CASE("a deferral never spends an attempt and never becomes a dead letter early",
          "[dispatch]") {
  QueueOptions q = fast_queue_options();
  q.max_attempts = 2;
  Harness h(q);
  // Six deferrals (a rate limit, then "still publishing") with max_attempts 2, then success.
  h.channel.set_behaviour([&](const Delivery& d, int call) -> Result<PublishReceipt> {
    if (call <= 3) return platform_error(ErrorKind::deferred, "slow down", "10023", 20ms);
    if (call <= 6) {
      Error e = Error::deferred("still publishing", 20ms, DeferReason::processing);
      e.code = "wechat_publishing";
      return e;
    }
    return succeed(d);
  });
  auto ids = h.enqueue("defer", 1, Lane::routine);
  Dispatcher d(h.options(), h.queue, h.channel);
  d.start();
  REQUIRE(wait_until([&] { return d.stats().published == 1; }, kDeadline));
  d.stop();
  CHECK(h.channel.calls(ids[0]) == 7);
  auto rec = h.record(ids[0]);
  CHECK(rec.state == DeliveryState::published);
  CHECK(rec.attempts == 1);
  CHECK(d.stats().dead == 0);
  CHECK(h.tally_total() == 1);
}

TEST_CASE("deferring longer than the channel's limit is a dead letter, deferred_too_long",
          "[dispatch]") {
  Harness h;
  h.channel.set_behaviour([&](const Delivery&, int) -> Result<PublishReceipt> {
    Error e = Error::deferred("still publishing", 20ms, DeferReason::processing);
    e.code = "wechat_publishing";
    return e;
  });
  auto ids = h.enqueue("toolong", 1, Lane::routine);
  DispatcherOptions o = h.options();
  o.defer_limits.processing = 200ms;
  o.defer_limits.rate_limit = 1h;  // not this reason's limit
  Dispatcher d(o, h.queue, h.channel);
  d.start();
  REQUIRE(wait_until([&] { return d.stats().dead == 1; }, kDeadline));
  d.stop();
  auto rec = h.record(ids[0]);
  CHECK(rec.state == DeliveryState::dead);
  CHECK(rec.last_error_code == "deferred_too_long");
  CHECK(h.channel.calls(ids[0]) >= 2);
}

TEST_CASE("an ambiguous attempt is looked up on the platform before anything is sent again",
          "[dispatch]") {
  Harness h;
  // The first call times out after the platform acted on it.
  h.channel.set_behaviour([&](const Delivery& d, int call) -> Result<PublishReceipt> {
    if (call == 1)
      return platform_error(ErrorKind::ambiguous, "timed out after sending", "curl_28");
    return succeed(d);
  });
  bool on_platform = false;
  SECTION("found: published with the platform's id, sent once") {
    on_platform = true;
  }
  SECTION("absent: sent once more") {
    on_platform = false;
  }
  h.channel.set_lookup([&](const Delivery& d) -> Result<Lookup> {
    if (on_platform) return Lookup{LookupState::found, PublishReceipt{"found-" + d.id}};
    return Lookup{LookupState::absent, {}};
  });
  auto ids = h.enqueue("amb", 1, Lane::routine);
  Dispatcher d(h.options(), h.queue, h.channel);
  d.start();
  REQUIRE(wait_until([&] { return d.stats().published == 1; }, kDeadline));
  d.stop();
  auto rec = h.record(ids[0]);
  CHECK(rec.state == DeliveryState::published);
  CHECK(h.channel.lookups() == 1);
  CHECK(h.channel.calls(ids[0]) == (on_platform ? 1 : 2));
  CHECK(rec.remote_id == (on_platform ? "found-" : "remote-") + ids[0]);
  CHECK(h.tally_total() == 1);
}

TEST_CASE("a permanent error sends the delivery to the dead letters with the platform's error",
          "[dispatch]") {
  Harness h;
  Error failure;
  std::string expected_code;
  SECTION("a permanent platform error keeps the platform's code") {
    failure = platform_error(ErrorKind::permanent, "text too long", "20012");
    expected_code = "20012";
  }
  SECTION("invalid input is never retried either") {
    failure = platform_error(ErrorKind::invalid_input, "payload is not an item", "bad_payload");
    expected_code = "bad_payload";
  }
  SECTION("an error without a code is recorded under its kind") {
    failure = Error::permanent("account suspended");
    expected_code = "permanent";
  }
  h.channel.set_behaviour([&](const Delivery&, int) -> Result<PublishReceipt> { return failure; });
  auto ids = h.enqueue("perm", 1, Lane::routine);
  Dispatcher d(h.options(), h.queue, h.channel);
  d.start();
  REQUIRE(wait_until([&] { return d.stats().dead == 1; }, kDeadline));
  d.stop();
  CHECK(h.channel.calls(ids[0]) == 1);
  auto rec = h.record(ids[0]);
  CHECK(rec.state == DeliveryState::dead);
  CHECK(rec.last_error_code == expected_code);
  CHECK(rec.last_error == failure.message);
  auto dead = h.queue.list_dead(h.conn, kChannel, 0, 10);
  REQUIRE(dead);
  REQUIRE(dead->size() == 1);
  CHECK(dead->front().id == ids[0]);
  CHECK(h.tally_total() == 0);
  CHECK(d.stats().retried == 0);
}

TEST_CASE("a delivery that keeps failing is dead after max_attempts attempts", "[dispatch]") {
  QueueOptions q = fast_queue_options();
  q.max_attempts = 3;
  Harness h(q);
  h.channel.set_behaviour([&](const Delivery&, int) -> Result<PublishReceipt> {
    return platform_error(ErrorKind::retryable, "gateway timeout", "504");
  });
  auto ids = h.enqueue("exhaust", 1, Lane::alert);
  Dispatcher d(h.options(), h.queue, h.channel);
  d.start();
  REQUIRE(wait_until([&] { return d.stats().dead == 1; }, kDeadline));
  d.stop();
  CHECK(h.channel.calls(ids[0]) == 3);
  auto rec = h.record(ids[0]);
  CHECK(rec.state == DeliveryState::dead);
  CHECK(rec.attempts == 3);
  CHECK(rec.last_error_code == "504");
  CHECK(d.stats().retried == 2);
  CHECK(h.tally_total() == 0);
}

TEST_CASE("an alert is published while every routine slot is held by a slow publish",
          "[dispatch]") {
  // Neither an idle timeout nor a lease deadline may wake the claimer within the test's deadline:
  // the alert must wake it, and so must the routine slots when they free.
  QueueOptions q = fast_queue_options();
  q.idle_block = 10min;
  q.lease = 2min;
  Harness h(q);
  Gate routine_gate;
  h.channel.set_behaviour([&](const Delivery& d, int) -> Result<PublishReceipt> {
    if (d.lane == Lane::routine && !routine_gate.wait()) {
      return Error::retryable("test gate never opened");
    }
    return succeed(d);
  });
  // Three slots, one reserved: two routine publishes take the other two and block.
  Dispatcher d(h.options("", 3, 1), h.queue, h.channel);
  d.start();
  auto routine = h.enqueue("slow", 4, Lane::routine);
  REQUIRE(wait_until([&] { return h.channel.running() == 2; }, kDeadline));

  auto alert = h.enqueue("urgent", 1, Lane::alert);
  REQUIRE(wait_until([&] { return d.stats().published == 1; }, kDeadline));
  CHECK(h.record(alert[0]).state == DeliveryState::published);
  CHECK(h.channel.running() == 2);  // the routine publishes are still blocked
  CHECK(h.channel.max_running(Lane::routine) == 2);

  routine_gate.open();
  REQUIRE(wait_until([&] { return d.stats().published == 5; }, kDeadline));
  d.stop();
  CHECK(h.channel.max_running(Lane::routine) == 2);  // routine never took the reserved slot
  for (const auto& id : routine) CHECK(h.channel.calls(id) == 1);
}

TEST_CASE("stop() lets running publishes finish, acks them and claims nothing new", "[dispatch]") {
  Harness h;
  Gate gate;
  h.channel.set_behaviour([&](const Delivery& d, int) -> Result<PublishReceipt> {
    if (!gate.wait()) return Error::retryable("test gate never opened");
    return succeed(d);
  });
  Dispatcher d(h.options("", 2, 0), h.queue, h.channel);
  d.start();
  auto ids = h.enqueue("drain", 6, Lane::routine);
  REQUIRE(wait_until([&] { return h.channel.running() == 2; }, kDeadline));

  std::atomic<bool> stopping{false};
  auto stopped = std::async(std::launch::async, [&] {
    stopping = true;
    d.stop(kDeadline);
  });
  REQUIRE(wait_until([&] { return stopping.load(); }, kDeadline));
  gate.open();
  REQUIRE(stopped.wait_for(kDeadline) == std::future_status::ready);

  // Every delivery is either published exactly once (at least the two that were running) or
  // still queued, never left in flight: everything stop() let run was acked.
  int published = 0;
  for (const auto& id : ids) {
    auto rec = h.record(id);
    INFO(id << " is " << to_string(rec.state));
    CHECK((rec.state == DeliveryState::published || rec.state == DeliveryState::queued));
    if (rec.state == DeliveryState::published) {
      ++published;
      CHECK(h.channel.calls(id) == 1);
    } else {
      CHECK(h.channel.calls(id) == 0);
    }
  }
  CHECK(published >= 2);
  CHECK(d.stats().published == static_cast<std::uint64_t>(published));
  CHECK(d.stats().in_flight == 0);
  auto depths = h.queue.depths(h.conn, kChannel);
  REQUIRE(depths);
  CHECK(depths->inflight == 0);
}

TEST_CASE("stop() wakes a dispatcher that is blocked in Redis at once", "[dispatch]") {
  test::OwnRedisServer redis;
  QueueOptions q = fast_queue_options();
  q.idle_block = 10min;  // stop() must not wait for the block to time out
  Harness h(q, redis.url());
  Dispatcher d(h.options(), h.queue, h.channel);
  d.start();
  REQUIRE(
      wait_until([&] { return info_field(h.conn, "clients", "blocked_clients") == 1; }, kDeadline));
  auto stopped = std::async(std::launch::async, [&] { d.stop(); });
  REQUIRE(stopped.wait_for(kDeadline) == std::future_status::ready);
  CHECK(info_field(h.conn, "clients", "blocked_clients") == 0);
}

TEST_CASE("two dispatchers on one channel never publish the same delivery twice", "[dispatch]") {
  Harness h;
  // A little platform latency, so that both dispatchers hold work at the same time.
  h.channel.set_behaviour([](const Delivery& d, int) -> Result<PublishReceipt> {
    std::this_thread::sleep_for(2ms);
    return succeed(d);
  });
  Dispatcher a(h.options("host-a:100:fake", 3, 1), h.queue, h.channel);
  Dispatcher b(h.options("host-b:200:fake", 3, 1), h.queue, h.channel);
  a.start();
  b.start();
  auto ids = h.enqueue("shared", 200, Lane::routine);
  auto alerts = h.enqueue("shared-alert", 20, Lane::alert);
  ids.insert(ids.end(), alerts.begin(), alerts.end());
  REQUIRE(wait_until([&] { return a.stats().published + b.stats().published == ids.size(); },
                     kDeadline));
  a.stop();
  b.stop();
  auto calls = h.channel.calls_by_id();
  CHECK(calls.size() == ids.size());
  for (const auto& id : ids) CHECK(calls[id] == 1);
  CHECK(a.stats().claimed > 0);
  CHECK(b.stats().claimed > 0);
  CHECK(a.stats().claimed + b.stats().claimed == ids.size());
  CHECK(a.stats().stale + b.stats().stale == 0);
  CHECK(h.tally_total() == static_cast<long long>(ids.size()));
}

TEST_CASE("an outcome whose lease was lost is counted as stale and changes nothing", "[dispatch]") {
  Harness h;
  Gate gate;
  h.channel.set_behaviour([&](const Delivery& d, int) -> Result<PublishReceipt> {
    if (!gate.wait()) return Error::retryable("test gate never opened");
    return succeed(d);
  });
  auto ids = h.enqueue("stolen", 1, Lane::routine);
  Dispatcher d(h.options("", 2, 0), h.queue, h.channel);
  d.start();
  REQUIRE(wait_until([&] { return h.channel.running() == 1; }, kDeadline));

  // Expire the lease behind the dispatcher's back and let another worker reclaim the delivery.
  auto expired = h.conn.command({"ZADD", h.queue.key(kChannel, "inflight"), "1", ids[0]});
  REQUIRE(expired);
  REQUIRE_FALSE(expired->is_error());
  ClaimRequest thief;
  thief.owner = "thief";
  thief.max_alert = 1;
  thief.max_routine = 1;
  auto stolen = h.queue.claim(h.conn, kChannel, thief);
  REQUIRE(stolen);
  REQUIRE(stolen->deliveries.size() == 1);

  gate.open();
  REQUIRE(wait_until([&] { return d.stats().stale == 1; }, kDeadline));
  d.stop();
  CHECK(d.stats().published == 0);
  CHECK(h.record(ids[0]).state == DeliveryState::in_flight);  // still the thief's
  CHECK(h.tally_total() == 0);
}

TEST_CASE("an idle dispatcher costs Redis a few commands per idle_block, not a busy loop",
          "[dispatch]") {
  test::OwnRedisServer redis;
  QueueOptions q = fast_queue_options();
  q.idle_block = 200ms;
  Harness h(q, redis.url());
  Gate gate;
  h.channel.set_behaviour([&](const Delivery& d, int) -> Result<PublishReceipt> {
    if (!gate.wait()) return Error::retryable("test gate never opened");
    return succeed(d);
  });
  // Two slots, one reserved for alerts.
  Dispatcher d(h.options("", 2, 1), h.queue, h.channel);
  d.start();
  SECTION("with nothing queued") {}
  SECTION("with routine work waiting for the only routine slot, held by a slow publish") {
    // The claimer can take nothing until that slot frees, and must not spin on the waiting work.
    h.enqueue("waiting", 3, Lane::routine);
    REQUIRE(wait_until([&] { return h.channel.running() == 1; }, kDeadline));
  }
  REQUIRE(
      wait_until([&] { return info_field(h.conn, "clients", "blocked_clients") == 1; }, kDeadline));

  // Round trips the dispatcher makes (claims and blocks; its other commands would show up too),
  // and everything Redis executed, including the commands inside the claim script.
  auto round_trips = [&] {
    return command_calls(h.conn, "evalsha") + command_calls(h.conn, "eval") +
           command_calls(h.conn, "blpop") + command_calls(h.conn, "client|id") +
           command_calls(h.conn, "client|unblock");
  };
  const long long trips_before = round_trips();
  const long long total_before = info_field(h.conn, "stats", "total_commands_processed");
  const auto window_start = std::chrono::steady_clock::now();
  // An observation window, not a wait for a condition: the count over it is what is checked.
  std::this_thread::sleep_for(2s);
  const long long total = info_field(h.conn, "stats", "total_commands_processed") - total_before;
  const long long trips = round_trips() - trips_before;
  const auto window = std::chrono::steady_clock::now() - window_start;
  gate.open();
  d.stop();

  // Each idle_block costs one BLPOP and one claim (a script of about ten commands). A polling
  // loop would make thousands in the same window.
  const long long windows = window / q.idle_block + 2;
  auto commandstats = h.conn.command({"INFO", "commandstats"});
  REQUIRE(commandstats);
  INFO("round trips: " << trips << ", commands: " << total << ", idle windows: " << windows << "\n"
                       << commandstats->str);
  CHECK(trips <= 2 * windows + 3);  // + a lease heartbeat while a publish is running
  CHECK(total <= 15 * windows);
}

TEST_CASE("a dispatcher rides out Redis failures and acks its outcomes afterwards", "[dispatch]") {
  test::OwnRedisServer redis;
  Harness h(fast_queue_options(), redis.url());
  DispatcherOptions options = h.options();
  options.redis.command_timeout = 200ms;
  options.redis.reconnect_backoff_min = 20ms;
  options.redis.reconnect_backoff_max = 200ms;

  SECTION("an outcome that cannot be acked while Redis does not answer is acked later") {
    Gate gate;
    h.channel.set_behaviour([&](const Delivery& d, int) -> Result<PublishReceipt> {
      if (!gate.wait()) return Error::retryable("test gate never opened");
      return succeed(d);
    });
    auto ids = h.enqueue("paused", 1, Lane::routine);
    Dispatcher d(options, h.queue, h.channel);
    d.start();
    REQUIRE(wait_until([&] { return h.channel.running() == 1; }, kDeadline));
    // Every client's commands wait for 3 s: the ack times out and must be kept and retried.
    auto paused = h.conn.command({"CLIENT", "PAUSE", "3000", "ALL"});
    REQUIRE(paused);
    REQUIRE_FALSE(paused->is_error());
    gate.open();
    REQUIRE(wait_until([&] { return d.stats().published == 1; }, kDeadline));
    d.stop();
    CHECK(d.stats().redis_errors >= 1);
    CHECK(h.channel.calls(ids[0]) == 1);
    CHECK(h.record(ids[0]).state == DeliveryState::published);
  }

  SECTION("it keeps claiming after Redis was restarted") {
    Dispatcher d(options, h.queue, h.channel);
    d.start();
    auto first = h.enqueue("before-restart", 3, Lane::routine);
    REQUIRE(wait_until([&] { return d.stats().published == 3; }, kDeadline));
    redis.kill();
    REQUIRE(wait_until([&] { return d.stats().redis_errors >= 1; }, kDeadline));
    redis.start();  // empty: nothing was persisted
    std::vector<std::string> second;
    REQUIRE(wait_until(
        [&] {
          RedisConnection fresh(h.redis);
          std::vector<NewDelivery> batch(1);
          Delivery& nd = batch[0].delivery;
          nd.item_id = "after-restart-0";
          nd.channel = kChannel;
          nd.id = delivery_id_for(nd.item_id, kChannel);
          nd.kind = herald::DeliveryKind::publication;
          nd.category = "work_news";
          nd.payload = "{}";
          return static_cast<bool>(h.queue.enqueue(fresh, batch));
        },
        kDeadline));
    REQUIRE(wait_until([&] { return d.stats().published == 4; }, kDeadline));
    d.stop();
    CHECK(h.channel.calls("after-restart-0.fake") == 1);
  }
}

TEST_CASE("a dispatcher rejects inconsistent options at construction", "[dispatch]") {
  Harness h;
  CHECK_THROWS_AS(Dispatcher(h.options("", 0, 0), h.queue, h.channel), std::invalid_argument);
  CHECK_THROWS_AS(Dispatcher(h.options("", 2, 2), h.queue, h.channel), std::invalid_argument);
  Dispatcher d(h.options("", 2, 1), h.queue, h.channel);
  CHECK(d.owner().find(":fake") != std::string::npos);  // "<host>:<pid>:<channel>"
}

// The system clock, except that its next `n` reads of pinned_ms() (which every queue script call
// makes, on the thread that calls it) throw: a seam for a dispatcher thread whose loop throws.
class ThrowingClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::system_clock::now(); }
  std::optional<std::int64_t> pinned_ms() const override {
    int left = throws_left_.load();
    while (left > 0 && !throws_left_.compare_exchange_weak(left, left - 1)) {
    }
    if (left > 0) throw std::runtime_error("clock read failed (test)");
    return std::nullopt;
  }
  void throw_next(int n) { throws_left_ = n; }

 private:
  mutable std::atomic<int> throws_left_{0};
};

TEST_CASE("a claimer whose loop throws logs it, starts again and keeps publishing", "[dispatch]") {
  test::LogCapture log;
  Harness h;
  // The dispatcher's queue reads the throwing clock; the test enqueues through h.queue.
  ThrowingClock clock;
  DeliveryQueue faulty(h.queue.options(), clock);
  clock.throw_next(2);  // nothing is leased yet, so only the claimer calls a script
  Dispatcher d(h.options(), faulty, h.channel);
  d.start();
  REQUIRE(wait_until(
      [&] { return !log.lines_with({"dispatch fake claimer thread restarting"}).empty(); },
      kDeadline));
  auto ids = h.enqueue("after-throw", 3, Lane::routine);
  require_each_published_once(h, d, ids, 0);
  CHECK(
      log.lines_with({"[error]",
                      "dispatch fake claimer thread failed (failure 1): clock read failed (test)"})
          .size() == 1);
  CHECK(log.lines_with({"[error]", "dispatch fake claimer thread failed (failure 2)"}).size() == 1);
}

TEST_CASE("a publish step that throws costs the delivery an attempt, not its worker",
          "[dispatch]") {
  test::LogCapture log;
  Harness h;
  DispatcherOptions options = h.options("", 1, 0);  // one worker: the same one must go on
  std::atomic<int> checks{0};
  options.pre_publish_check = [&](const Delivery&) -> Result<void> {
    if (checks.fetch_add(1) == 0) throw std::runtime_error("word list corrupt");
    return ok();
  };
  auto ids = h.enqueue("check-throws", 1, Lane::routine);
  Dispatcher d(options, h.queue, h.channel);
  d.start();
  REQUIRE(wait_until([&] { return d.stats().published == 1; }, kDeadline));
  d.stop();
  const DeliveryRecord rec = h.record(ids[0]);
  CHECK(rec.state == DeliveryState::published);
  CHECK(rec.attempts == 2);  // the one that threw, then the one that published
  CHECK(h.channel.calls(ids[0]) == 1);
  CHECK(d.stats().retried == 1);
  CHECK(d.stats().in_flight == 0);
  CHECK(log.lines_with({"[error]", "handling " + ids[0] + " threw: word list corrupt"}).size() ==
        1);
}

TEST_CASE("a lease another worker let expire is reclaimed when it expires, whatever idle_block",
          "[dispatch]") {
  QueueOptions q = fast_queue_options();
  q.lease = 1s;
  q.idle_block = 10min;  // only the lease's deadline can bring the claimer back in time
  Harness h(q);
  auto ids = h.enqueue("orphaned", 1, Lane::routine);
  ClaimRequest request;
  request.owner = "worker-that-died";
  request.max_routine = 1;
  auto taken = h.queue.claim(h.conn, kChannel, request);
  REQUIRE(taken);
  REQUIRE(taken->deliveries.size() == 1);
  // The dead worker took the wake token: nothing but the lease's deadline wakes anyone now.
  REQUIRE(
      h.conn.command({"DEL", h.queue.key(kChannel, "wake"), h.queue.key(kChannel, "wake:alert")}));

  const auto started = std::chrono::steady_clock::now();
  Dispatcher d(h.options(), h.queue, h.channel);
  d.start();
  REQUIRE(wait_until([&] { return d.stats().published == 1; }, kDeadline));
  const auto took = std::chrono::steady_clock::now() - started;
  d.stop();
  CHECK(took < 10s);
  CHECK(h.record(ids[0]).state == DeliveryState::published);
  CHECK(h.channel.calls(ids[0]) == 1);
}

}  // namespace
}  // namespace herald
