// DeliveryQueue against a real redis-server, with a ManualClock: lanes, dedup, scheduling,
// retries, dead letters, leases, the ledger and the tally, wake tokens, key layout.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <random>
#include <set>
#include <string>

#include "queue/delivery_queue.h"
#include "tests/support/enum_printers.h"
#include "tests/support/process.h"
#include "tests/support/redis_server.h"

namespace herald {
namespace {

using namespace std::chrono_literals;

// 2026-03-10T02:00:00Z, 10:00 in Beijing.
constexpr std::int64_t kStartMs = 1773108000000;
const std::string kChannel = "weibo";

TimePoint at_ms(std::int64_t ms) {
  return TimePoint(std::chrono::milliseconds(ms));
}

NewDelivery routine(const std::string& item, const std::string& channel = kChannel) {
  NewDelivery nd;
  nd.delivery.id = delivery_id_for(item, channel);
  nd.delivery.item_id = item;
  nd.delivery.channel = channel;
  nd.delivery.lane = Lane::routine;
  nd.delivery.category = "work_news";
  nd.delivery.kind = herald::DeliveryKind::publication;
  nd.delivery.payload = "{\"title\":\"" + item + "\"}";
  return nd;
}

NewDelivery alert(const std::string& item, const std::string& channel = kChannel) {
  NewDelivery nd = routine(item, channel);
  nd.delivery.lane = Lane::alert;
  nd.delivery.category = "overseas_safety";
  nd.delivery.kind = herald::DeliveryKind::alert;
  return nd;
}

struct Fixture {
  ManualClock clock{at_ms(kStartMs)};
  QueueOptions options = [] {
    QueueOptions o;
    o.prefix = test::unique_key_prefix("dq");
    o.lease = 10s;
    o.max_attempts = 3;
    return o;
  }();
  DeliveryQueue queue{options, clock};
  RedisConnection conn;

  explicit Fixture(RedisOptions redis = test::test_redis_options()) : conn(std::move(redis)) {}

  std::string id(const std::string& item) const { return delivery_id_for(item, kChannel); }

  int enqueue(const std::vector<NewDelivery>& ds) {
    auto added = queue.enqueue(conn, ds);
    REQUIRE(added);
    return *added;
  }
  Claimed claim(int max_alert, int max_routine, const std::string& owner = "worker-a") {
    auto claimed = queue.claim(conn, kChannel, ClaimRequest{owner, max_alert, max_routine});
    REQUIRE(claimed);
    return *claimed;
  }
  Delivery claim_one(const std::string& owner = "worker-a") {
    Claimed c = claim(1, 1, owner);
    REQUIRE(c.deliveries.size() == 1);
    return c.deliveries.front();
  }
  CompletionResult complete(const Completion& c) {
    auto r = queue.complete(conn, kChannel, {c});
    REQUIRE(r);
    REQUIRE(r->size() == 1);
    return r->front();
  }
  DeliveryRecord record(const std::string& delivery_id) {
    auto r = queue.get(conn, delivery_id);
    REQUIRE(r);
    REQUIRE(r->has_value());
    return **r;
  }
  LaneDepths depths() {
    auto d = queue.depths(conn, kChannel);
    REQUIRE(d);
    return *d;
  }
  std::map<std::string, long long> tally(int year) {
    auto t = queue.read_tally(conn, kChannel, year);
    REQUIRE(t);
    return *t;
  }
  RedisValue raw(const std::vector<std::string>& args) {
    auto r = conn.command(args);
    REQUIRE(r);
    REQUIRE_FALSE(r->is_error());
    return *r;
  }
  long long llen(const std::string& suffix) {
    return raw({"LLEN", queue.key(kChannel, suffix)}).integer;
  }
};

Completion published(const Delivery& d, const std::string& remote_id = "remote-1") {
  Completion c;
  c.delivery_id = d.id;
  c.lease_token = d.lease_token;
  c.outcome = OutcomeKind::published;
  c.remote_id = remote_id;
  return c;
}

Completion retry(const Delivery& d, Millis in, const std::string& message = "HTTP 503") {
  Completion c;
  c.delivery_id = d.id;
  c.lease_token = d.lease_token;
  c.outcome = OutcomeKind::retry;
  c.error_code = "503";
  c.error_message = message;
  c.retry_in = in;
  return c;
}

Completion dead(const Delivery& d, const std::string& message = "content rejected") {
  Completion c;
  c.delivery_id = d.id;
  c.lease_token = d.lease_token;
  c.outcome = OutcomeKind::dead;
  c.error_code = "20019";
  c.error_message = message;
  return c;
}

}  // namespace

TEST_CASE("an alert queued behind 10,000 routine deliveries is claimed first", "[queue][lanes]") {
  Fixture f;
  std::vector<NewDelivery> batch;
  for (int i = 0; i < 10000; ++i) batch.push_back(routine("r" + std::to_string(i)));
  REQUIRE(f.enqueue(batch) == 10000);
  REQUIRE(f.enqueue({alert("a1")}) == 1);

  SECTION("the alert comes first, then routine work in FIFO order once no alert waits") {
    Claimed c = f.claim(1, 3);
    REQUIRE(c.deliveries.size() == 4);
    CHECK(c.deliveries[0].id == f.id("a1"));
    CHECK(c.deliveries[0].lane == Lane::alert);
    CHECK(c.deliveries[0].kind == herald::DeliveryKind::alert);
    CHECK(c.deliveries[1].id == f.id("r0"));
    CHECK(c.deliveries[2].id == f.id("r1"));
    CHECK(c.deliveries[3].id == f.id("r2"));
    for (const auto& d : c.deliveries) {
      CHECK(d.attempt == 1);
      CHECK(d.channel == kChannel);
      CHECK_FALSE(d.lease_token.empty());
      CHECK(d.payload == "{\"title\":\"" + d.item_id + "\"}");
    }
    auto depths = f.depths();
    CHECK(depths.alert == 0);
    CHECK(depths.routine == 9997);
    CHECK(depths.inflight == 4);
  }
  SECTION("no routine delivery is started while an alert waits") {
    REQUIRE(f.enqueue({alert("a2")}) == 1);
    CHECK(f.claim(0, 5).deliveries.empty());
    Claimed c = f.claim(1, 5);
    REQUIRE(c.deliveries.size() == 1);  // a2 still waits, so no routine work
    CHECK(c.deliveries[0].id == f.id("a1"));
    Claimed next = f.claim(1, 2);
    REQUIRE(next.deliveries.size() == 3);
    CHECK(next.deliveries[0].id == f.id("a2"));
    CHECK(next.deliveries[1].id == f.id("r0"));
  }
}

TEST_CASE("enqueueing the same delivery again never queues it twice", "[queue][dedup]") {
  Fixture f;
  REQUIRE(f.enqueue({routine("i1")}) == 1);
  const auto created = f.record(f.id("i1")).created_at;
  f.clock.advance(1s);

  SECTION("while it waits") {
    CHECK(f.enqueue({routine("i1"), routine("i2")}) == 1);
    CHECK(f.llen("routine") == 2);
    CHECK(f.record(f.id("i1")).created_at == created);
  }
  SECTION("twice in one batch") {
    CHECK(f.enqueue({routine("i3"), routine("i3")}) == 1);
    CHECK(f.llen("routine") == 2);
  }
  SECTION("after it was published") {
    Delivery d = f.claim_one();
    REQUIRE(f.complete(published(d)) == CompletionResult::applied);
    CHECK(f.enqueue({routine("i1")}) == 0);
    CHECK(f.llen("routine") == 0);
    CHECK(f.record(f.id("i1")).state == DeliveryState::published);
  }
  SECTION("a delivery whose id does not name its channel is refused") {
    NewDelivery bad = routine("i9");
    bad.delivery.channel = "wechat";
    auto r = f.queue.enqueue(f.conn, {bad});
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::invalid_input);
    NewDelivery braces = routine("i9", "we{ch}at");
    auto r2 = f.queue.enqueue(f.conn, {braces});
    REQUIRE_FALSE(r2);
    CHECK(r2.error().kind == ErrorKind::invalid_input);
  }
}

TEST_CASE("deliveries of several channels are enqueued in one call", "[queue]") {
  Fixture f;
  REQUIRE(f.enqueue({routine("m1", "weibo"), routine("m1", "wechat"), alert("m2", "wechat")}) == 3);
  CHECK(f.llen("routine") == 1);
  auto wechat = f.queue.depths(f.conn, "wechat");
  REQUIRE(wechat);
  CHECK(wechat->routine == 1);
  CHECK(wechat->alert == 1);
  auto claimed = f.queue.claim(f.conn, "wechat", ClaimRequest{"w", 1, 1});
  REQUIRE(claimed);
  REQUIRE(claimed->deliveries.size() == 2);
  CHECK(claimed->deliveries[0].id == "m2.wechat");
  CHECK(claimed->deliveries[1].id == "m1.wechat");
}

TEST_CASE("a scheduled delivery waits in the timed set until it is due", "[queue][schedule]") {
  Fixture f;
  NewDelivery later = routine("s1");
  later.publish_at = f.clock.now() + 1h;
  NewDelivery past = routine("s2");
  past.publish_at = f.clock.now() - 1min;
  NewDelivery alert_later = alert("s3");
  alert_later.publish_at = f.clock.now() + 2h;
  REQUIRE(f.enqueue({later, past, alert_later}) == 3);

  CHECK(f.record(f.id("s1")).state == DeliveryState::scheduled);
  CHECK(f.record(f.id("s2")).state ==
        DeliveryState::queued);  // publish_at already passed: queued now
  CHECK(f.depths().timed == 2);

  Claimed first = f.claim(1, 5);
  REQUIRE(first.deliveries.size() == 1);
  CHECK(first.deliveries[0].id == f.id("s2"));
  REQUIRE(f.complete(published(first.deliveries[0])) == CompletionResult::applied);

  Claimed idle = f.claim(1, 5);
  CHECK(idle.deliveries.empty());
  REQUIRE(idle.next_due_in);
  CHECK(*idle.next_due_in == *later.publish_at - f.clock.now());

  f.clock.advance(59min);
  CHECK(f.claim(1, 5).deliveries.empty());
  f.clock.advance(1min);
  Claimed due = f.claim(1, 5);
  REQUIRE(due.deliveries.size() == 1);
  CHECK(due.deliveries[0].id == f.id("s1"));
  CHECK(due.deliveries[0].attempt == 1);

  // A scheduled alert is promoted into the alert lane.
  f.clock.advance(1h);
  Claimed alert_due = f.claim(1, 0);
  REQUIRE(alert_due.deliveries.size() == 1);
  CHECK(alert_due.deliveries[0].id == f.id("s3"));
  CHECK(alert_due.deliveries[0].lane == Lane::alert);
}

TEST_CASE("a failing delivery is retried when due and buried after max_attempts",
          "[queue][retry]") {
  Fixture f;  // max_attempts = 3
  REQUIRE(f.enqueue({alert("x1")}) == 1);

  for (int attempt = 1; attempt <= 3; ++attempt) {
    INFO("attempt " << attempt);
    Claimed c = f.claim(1, 0);
    REQUIRE(c.deliveries.size() == 1);
    const Delivery d = c.deliveries[0];
    CHECK(d.attempt == attempt);
    CHECK(d.lane == Lane::alert);                 // a retried alert goes back to the alert lane
    CHECK_FALSE(f.record(d.id).next_attempt_at);  // no longer waiting for a retry
    const TimePoint retry_at = f.clock.now() + 5s;
    REQUIRE(f.complete(retry(d, 5s, "HTTP 503 attempt " + std::to_string(attempt))) ==
            (attempt < 3 ? CompletionResult::applied : CompletionResult::buried));
    DeliveryRecord r = f.record(d.id);
    CHECK(r.attempts == attempt);
    CHECK(r.last_error == "HTTP 503 attempt " + std::to_string(attempt));
    CHECK(r.last_error_code == "503");
    if (attempt < 3) {
      CHECK(r.state == DeliveryState::retry_wait);
      REQUIRE(r.next_attempt_at);
      CHECK(*r.next_attempt_at == retry_at);
      Claimed early = f.claim(1, 0);
      CHECK(early.deliveries.empty());
      REQUIRE(early.next_due_in);
      CHECK(*early.next_due_in == 5s);
      f.clock.advance(5s);
    } else {
      CHECK(r.state == DeliveryState::dead);
      CHECK_FALSE(r.next_attempt_at);
    }
  }
  auto depths = f.depths();
  CHECK(depths.dead == 1);
  CHECK(depths.timed == 0);
  CHECK(depths.inflight == 0);
  f.clock.advance(1h);
  CHECK(f.claim(1, 1).deliveries.empty());
}

TEST_CASE("backoff grows exponentially with full jitter, is capped and honours retry_after",
          "[queue][retry]") {
  Fixture f;
  f.options.retry_base = 1000ms;
  f.options.retry_max = 60000ms;
  DeliveryQueue q(f.options, f.clock);
  std::mt19937_64 rng(42);
  for (int attempt = 1; attempt <= 30; ++attempt) {
    const std::int64_t cap =
        std::min<std::int64_t>(60000, std::int64_t{1000} << std::min(attempt - 1, 20));
    std::int64_t highest = 0;
    std::set<std::int64_t> seen;
    for (int i = 0; i < 200; ++i) {
      const auto b = q.backoff(attempt, std::nullopt, rng).count();
      REQUIRE(b >= 0);
      REQUIRE(b <= cap);
      highest = std::max(highest, b);
      seen.insert(b);
    }
    INFO("attempt " << attempt);
    CHECK(highest > cap / 2);  // 200 uniform draws all below half the cap: 2^-200
    CHECK(seen.size() > 10);   // jitter, not a fixed delay
  }
  for (int i = 0; i < 100; ++i) {
    CHECK(q.backoff(1, 30000ms, rng) >= 30000ms);
    CHECK(q.backoff(3, 600000ms, rng) == 600000ms);  // the platform's wait wins over retry_max
  }
}

TEST_CASE("dead letters can be listed and replayed with a fresh attempt budget", "[queue][dead]") {
  Fixture f;
  REQUIRE(f.enqueue({routine("d1"), routine("d2"), routine("d3")}) == 3);
  Claimed c = f.claim(0, 3);
  REQUIRE(c.deliveries.size() == 3);
  for (const auto& d : c.deliveries) {
    REQUIRE(f.complete(dead(d, "rejected " + d.item_id)) == CompletionResult::applied);
    f.clock.advance(1s);
  }

  auto listed = f.queue.list_dead(f.conn, kChannel, 0, 10);
  REQUIRE(listed);
  REQUIRE(listed->size() == 3);
  CHECK((*listed)[0].id == f.id("d3"));  // most recently buried first
  CHECK((*listed)[2].id == f.id("d1"));
  CHECK((*listed)[0].state == DeliveryState::dead);
  CHECK((*listed)[0].last_error == "rejected d3");
  CHECK((*listed)[0].last_error_code == "20019");
  auto page = f.queue.list_dead(f.conn, kChannel, 1, 1);
  REQUIRE(page);
  REQUIRE(page->size() == 1);
  CHECK((*page)[0].id == f.id("d2"));

  REQUIRE(f.queue.replay(f.conn, f.id("d2")));
  DeliveryRecord r = f.record(f.id("d2"));
  CHECK(r.state == DeliveryState::queued);
  CHECK(r.attempts == 0);
  CHECK(f.raw({"HGET", f.queue.key(kChannel, "d:" + f.id("d2")), "replayed_at"}).str ==
        std::to_string(f.clock.now_ms()));
  CHECK(f.depths().dead == 2);

  Delivery again = f.claim_one();
  CHECK(again.id == f.id("d2"));
  CHECK(again.attempt == 1);
  CHECK(again.payload == "{\"title\":\"d2\"}");  // kept while dead, so the replay can publish

  auto not_dead = f.queue.replay(f.conn, f.id("d2"));
  REQUIRE_FALSE(not_dead);
  CHECK(not_dead.error().kind == ErrorKind::invalid_input);
  CHECK(not_dead.error().code == "not_dead");
  auto unknown = f.queue.replay(f.conn, f.id("nope"));
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code == "not_found");
  auto no_channel = f.queue.replay(f.conn, "nodot");
  REQUIRE_FALSE(no_channel);
  CHECK(no_channel.error().code == "not_found");
}

TEST_CASE("an expired lease is reclaimed under a new token and the old owner's ack is stale",
          "[queue][lease]") {
  Fixture f;  // lease 10 s
  REQUIRE(f.enqueue({routine("l1"), routine("l2")}) == 2);
  Claimed first = f.claim(0, 1, "worker-a");
  REQUIRE(first.deliveries.size() == 1);
  const Delivery old_claim = first.deliveries[0];
  CHECK(old_claim.id == f.id("l1"));
  REQUIRE(first.next_due_in);
  CHECK(*first.next_due_in == 10s);

  f.clock.advance(9999ms);
  Claimed not_yet = f.claim(0, 1, "worker-b");
  REQUIRE(not_yet.deliveries.size() == 1);
  CHECK(not_yet.deliveries[0].id == f.id("l2"));  // l1's lease still holds
  REQUIRE(f.complete(published(not_yet.deliveries[0], "remote-l2")) == CompletionResult::applied);

  f.clock.advance(2ms);
  Claimed reclaimed = f.claim(0, 1, "worker-b");
  REQUIRE(reclaimed.deliveries.size() == 1);
  const Delivery new_claim = reclaimed.deliveries[0];
  CHECK(new_claim.id == old_claim.id);
  CHECK(new_claim.attempt == 2);
  CHECK(new_claim.lease_token != old_claim.lease_token);
  CHECK(new_claim.payload == old_claim.payload);
  CHECK(f.raw({"HGET", f.queue.key(kChannel, "d:" + new_claim.id), "lease_owner"}).str ==
        "worker-b");

  // The old owner finishes late: nothing changes, nothing is counted.
  CHECK(f.complete(published(old_claim, "remote-old")) == CompletionResult::stale);
  auto hb = f.queue.heartbeat(f.conn, kChannel, {{old_claim.id, old_claim.lease_token}});
  REQUIRE(hb);
  CHECK(*hb == 0);
  CHECK(f.record(old_claim.id).state == DeliveryState::in_flight);
  CHECK(f.tally(2026).at("2026-03-10|work_news|publication") == 1);  // l2 only

  CHECK(f.complete(published(new_claim, "remote-new")) == CompletionResult::applied);
  CHECK(f.complete(published(new_claim, "remote-new")) == CompletionResult::stale);
  CHECK(f.complete(retry(new_claim, 0s)) == CompletionResult::stale);
  DeliveryRecord r = f.record(new_claim.id);
  CHECK(r.state == DeliveryState::published);
  CHECK(r.remote_id == "remote-new");
  CHECK(f.tally(2026).at("2026-03-10|work_news|publication") == 2);
}

TEST_CASE("a reclaimed delivery goes back to the head of its lane, or dies after max_attempts",
          "[queue][lease]") {
  Fixture f;  // max_attempts = 3
  REQUIRE(f.enqueue({routine("h1"), routine("h2"), routine("h3")}) == 3);
  Delivery d = f.claim(0, 1).deliveries.at(0);
  REQUIRE(d.id == f.id("h1"));

  SECTION("head of the lane, attempts kept") {
    f.clock.advance(11s);
    Delivery again = f.claim(0, 1).deliveries.at(0);
    CHECK(again.id == f.id("h1"));
    CHECK(again.attempt == 2);
    CHECK(f.record(again.id).last_error_code == "lease_expired");
  }
  SECTION("a delivery that keeps losing its lease only looks past max_attempts, then is buried") {
    for (int attempt = 2; attempt <= 6; ++attempt) {
      f.clock.advance(11s);
      Delivery again = f.claim(0, 1).deliveries.at(0);
      REQUIRE(again.id == f.id("h1"));
      REQUIRE(again.attempt == attempt);
      CHECK(again.maybe_sent);
      CHECK(again.lookup_only == (attempt > 3));
    }
    f.clock.advance(11s);
    Delivery next = f.claim(0, 1).deliveries.at(0);
    CHECK(next.id == f.id("h2"));
    DeliveryRecord r = f.record(f.id("h1"));
    CHECK(r.state == DeliveryState::dead);
    CHECK(r.last_error_code == "lease_expired");
    CHECK(r.last_error.find("worker-a") != std::string::npos);
    CHECK(f.depths().dead == 1);
  }
}

TEST_CASE("a heartbeat keeps a lease alive only for its holder", "[queue][lease]") {
  Fixture f;  // lease 10 s
  REQUIRE(f.enqueue({routine("k1")}) == 1);
  Delivery d = f.claim_one("worker-a");

  f.clock.advance(6s);
  auto extended = f.queue.heartbeat(f.conn, kChannel, {{d.id, d.lease_token}});
  REQUIRE(extended);
  CHECK(*extended == 1);
  auto wrong = f.queue.heartbeat(f.conn, kChannel, {{d.id, "not-the-token"}, {f.id("zz"), "x"}});
  REQUIRE(wrong);
  CHECK(*wrong == 0);

  f.clock.advance(6s);  // past the first deadline, before the extended one
  CHECK(f.claim(1, 1, "worker-b").deliveries.empty());
  CHECK(f.record(d.id).state == DeliveryState::in_flight);
  CHECK(f.complete(published(d)) == CompletionResult::applied);

  auto other_channel = f.queue.heartbeat(f.conn, kChannel, {{"k1.wechat", "t"}});
  REQUIRE_FALSE(other_channel);
  CHECK(other_channel.error().kind == ErrorKind::invalid_input);
}

TEST_CASE("publishing writes the ledger and the tally once and drops what is no longer needed",
          "[queue][ledger]") {
  Fixture f;
  REQUIRE(f.enqueue({routine("p1"), alert("p2")}) == 2);
  const std::string ledger = f.queue.key(kChannel, "d:" + f.id("p1"));
  {
    auto fields = f.raw({"HGETALL", ledger});
    std::set<std::string> names;
    for (std::size_t i = 0; i < fields.elements.size(); i += 2)
      names.insert(fields.elements[i].str);
    CHECK(names.count("payload") == 1);
    CHECK(names.count("queued_at") == 1);
  }
  Claimed c = f.claim(1, 1);
  REQUIRE(c.deliveries.size() == 2);
  CHECK(f.raw({"HGET", ledger, "state"}).str == "in_flight");
  CHECK(f.raw({"HGET", ledger, "attempt_started_at"}).str == std::to_string(kStartMs));

  f.clock.advance(3s);
  auto results = f.queue.complete(
      f.conn, kChannel, {published(c.deliveries[0], "wb-1"), published(c.deliveries[1], "wb-2")});
  REQUIRE(results);
  CHECK(*results ==
        std::vector<CompletionResult>{CompletionResult::applied, CompletionResult::applied});

  DeliveryRecord r = f.record(f.id("p1"));
  CHECK(r.state == DeliveryState::published);
  CHECK(r.remote_id == "wb-2");
  CHECK(r.item_id == "p1");
  CHECK(r.channel == kChannel);
  CHECK(r.lane == Lane::routine);
  CHECK(r.attempts == 1);
  REQUIRE(r.published_at);
  CHECK(*r.published_at == f.clock.now());
  REQUIRE(r.created_at);
  CHECK(*r.created_at == at_ms(kStartMs));
  for (const char* gone : {"payload", "lease_token", "lease_owner", "attempt_started_at"}) {
    INFO(gone);
    CHECK(f.raw({"HEXISTS", ledger, gone}).integer == 0);
  }
  CHECK(f.depths().inflight == 0);

  const auto tally = f.tally(2026);
  CHECK(tally == std::map<std::string, long long>{{"2026-03-10|overseas_safety|alert", 1},
                                                  {"2026-03-10|work_news|publication", 1}});
  CHECK(f.raw({"HGET", f.options.prefix + "{weibo}:tally:2026", "2026-03-10|work_news|publication"})
            .str == "1");

  SECTION("the tally day is the office day, even across a year boundary") {
    f.clock.set(at_ms(1798734600000));  // 2026-12-31T16:30Z = 2027-01-01 00:30 in Beijing
    REQUIRE(f.enqueue({routine("p3")}) == 1);
    Delivery d = f.claim_one();
    REQUIRE(f.complete(published(d)) == CompletionResult::applied);
    CHECK(f.tally(2027) ==
          std::map<std::string, long long>{{"2027-01-01|work_news|publication", 1}});
    CHECK(f.tally(2026).size() == 2);
  }
}

TEST_CASE("tally_day formats the day in a fixed UTC offset", "[queue][ledger]") {
  CHECK(tally_day(at_ms(kStartMs), 480) == "2026-03-10");
  CHECK(tally_day(at_ms(1773158399999), 480) == "2026-03-10");  // 23:59:59.999 in Beijing
  CHECK(tally_day(at_ms(1773158400000), 480) == "2026-03-11");
  CHECK(tally_day(at_ms(1773158400000), 0) == "2026-03-10");
  CHECK(tally_day(at_ms(1798734600000), 0) == "2026-12-31");
  CHECK(tally_day(at_ms(0), -60) == "1969-12-31");
  CHECK(tally_day(at_ms(951782400000), 0) == "2000-02-29");
}

TEST_CASE("a wake token wakes one waiting worker and there is never more than one",
          "[queue][wake]") {
  Fixture f;

  SECTION("wait_for_work returns as soon as another connection enqueues") {
    RedisConnection blocking(test::test_redis_options());
    auto id = blocking.command({"CLIENT", "ID"});
    REQUIRE(id);
    const std::string client = std::to_string(id->integer);
    auto woke = std::async(std::launch::async,
                           [&] { return f.queue.wait_for_work(blocking, kChannel, 60s); });
    REQUIRE(test::wait_until(
        [&] {
          auto list = f.conn.command({"CLIENT", "LIST", "ID", client});
          return list && list->str.find("cmd=blpop") != std::string::npos;
        },
        20s));
    REQUIRE(f.enqueue({routine("w1")}) == 1);
    REQUIRE(woke.wait_for(30s) == std::future_status::ready);  // well before its 60 s timeout
    auto r = woke.get();
    REQUIRE(r);
    CHECK(*r);
    CHECK(f.llen("wake") == 0);
  }
  SECTION("enqueues leave at most one token per lane") {
    REQUIRE(f.enqueue({routine("w1")}) == 1);
    REQUIRE(f.enqueue({routine("w2"), routine("w3")}) == 2);
    NewDelivery later = routine("w4");
    later.publish_at = f.clock.now() + 1h;
    REQUIRE(f.enqueue({later}) == 1);
    CHECK(f.llen("wake") == 1);
    CHECK(f.llen("wake:alert") == 0);
    REQUIRE(f.enqueue({alert("w5"), alert("w6")}) == 2);
    CHECK(f.llen("wake:alert") == 1);
    CHECK(f.enqueue({routine("w1")}) == 0);
    CHECK(f.llen("wake") == 1);
  }
  SECTION("without a token the wait times out") {
    auto r = f.queue.wait_for_work(f.conn, kChannel, 50ms);
    REQUIRE(r);
    CHECK_FALSE(*r);
    auto zero = f.queue.wait_for_work(f.conn, kChannel, 0ms);
    REQUIRE(zero);
    CHECK_FALSE(*zero);
  }
  SECTION(
      "a claim that leaves work behind passes the token on, one that empties the lane does not") {
    std::vector<NewDelivery> five;
    for (int i = 0; i < 5; ++i) five.push_back(routine("t" + std::to_string(i)));
    REQUIRE(f.enqueue(five) == 5);
    auto took = f.queue.wait_for_work(f.conn, kChannel, 0ms);
    REQUIRE(took);
    REQUIRE(*took);
    REQUIRE(f.claim(1, 2).deliveries.size() == 2);
    CHECK(f.llen("wake") == 1);
    REQUIRE(f.queue.wait_for_work(f.conn, kChannel, 0ms));
    REQUIRE(f.claim(1, 3).deliveries.size() == 3);
    CHECK(f.llen("wake") == 0);
  }
  SECTION("a worker with only alert slots free is not woken by routine work") {
    REQUIRE(f.enqueue({routine("u1")}) == 1);
    auto r = f.queue.wait_for_work(f.conn, kChannel, 0ms, /*routine_capacity=*/false);
    REQUIRE(r);
    CHECK_FALSE(*r);
    CHECK(f.llen("wake") == 1);
    REQUIRE(f.enqueue({alert("u2")}) == 1);
    auto a = f.queue.wait_for_work(f.conn, kChannel, 0ms, false);
    REQUIRE(a);
    CHECK(*a);
    CHECK(f.llen("wake:alert") == 0);
  }
}

TEST_CASE("a worker killed with SIGKILL while holding deliveries loses none of them",
          "[queue][lease]") {
  Fixture f;
  std::vector<NewDelivery> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(routine("k" + std::to_string(i)));
  REQUIRE(f.enqueue(batch) == 5);

  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The doomed worker: claims everything on its own connection, then dies before acking.
    RedisConnection own(test::test_redis_options());
    auto c = f.queue.claim(own, kChannel, ClaimRequest{"doomed", 0, 5});
    if (c && c->deliveries.size() == 5) raise(SIGKILL);
    _exit(3);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(WTERMSIG(status) == SIGKILL);
  CHECK(f.depths().inflight == 5);
  CHECK(f.claim(1, 5, "survivor").deliveries.empty());  // leases still hold

  f.clock.advance(f.options.lease + 1ms);
  Claimed c = f.claim(1, 5, "survivor");
  REQUIRE(c.deliveries.size() == 5);
  std::vector<Completion> acks;
  for (int i = 0; i < 5; ++i) {
    CHECK(c.deliveries[i].id == f.id("k" + std::to_string(i)));  // original order kept
    CHECK(c.deliveries[i].attempt == 2);
    acks.push_back(published(c.deliveries[i]));
  }
  auto results = f.queue.complete(f.conn, kChannel, acks);
  REQUIRE(results);
  for (auto r : *results) CHECK(r == CompletionResult::applied);
  CHECK(f.tally(2026).at("2026-03-10|work_news|publication") == 5);
}

TEST_CASE("claims and acks move many deliveries per script call", "[queue]") {
  Fixture f;
  std::vector<NewDelivery> batch;
  for (int i = 0; i < 600; ++i) batch.push_back(routine("b" + std::to_string(i)));
  REQUIRE(f.enqueue(batch) == 600);  // more than one enqueue chunk
  Claimed c = f.claim(0, 600);
  REQUIRE(c.deliveries.size() == 600);
  std::vector<Completion> acks;
  for (const auto& d : c.deliveries) acks.push_back(published(d));
  auto results = f.queue.complete(f.conn, kChannel, acks);
  REQUIRE(results);
  REQUIRE(results->size() == 600);
  CHECK(std::count(results->begin(), results->end(), CompletionResult::applied) == 600);
  CHECK(f.tally(2026).at("2026-03-10|work_news|publication") == 600);
  CHECK(f.depths().inflight == 0);
}

TEST_CASE("get_many reads several ledgers at once and skips unknown ids", "[queue][ledger]") {
  Fixture f;
  REQUIRE(f.enqueue({routine("g1"), routine("g1", "wechat")}) == 2);
  auto records = f.queue.get_many(f.conn, {f.id("g1"), "g1.wechat", f.id("missing"), "no-channel"});
  REQUIRE(records);
  REQUIRE(records->size() == 2);
  CHECK((*records)[0].id == "g1.weibo");
  CHECK((*records)[0].channel == "weibo");
  CHECK((*records)[1].id == "g1.wechat");
  CHECK((*records)[1].state == DeliveryState::queued);
  CHECK((*records)[1].attempts == 0);
  auto none = f.queue.get(f.conn, f.id("missing"));
  REQUIRE(none);
  CHECK_FALSE(none->has_value());

  CHECK(channel_of_delivery("01jabc.weibo") == "weibo");
  CHECK(channel_of_delivery("01jabc.media.feeds") == "media.feeds");
  CHECK(channel_of_delivery("01jabc") == "");
}

TEST_CASE("depths report each structure and when the oldest waiting delivery was queued",
          "[queue]") {
  Fixture f;
  CHECK_FALSE(f.depths().oldest_waiting);
  REQUIRE(f.enqueue({routine("o1")}) == 1);
  f.clock.advance(5s);
  NewDelivery later = routine("o2");
  later.publish_at = f.clock.now() + 1h;
  REQUIRE(f.enqueue({routine("o3"), alert("o4"), later}) == 3);
  auto d = f.depths();
  CHECK(d.alert == 1);
  CHECK(d.routine == 2);
  CHECK(d.timed == 1);
  CHECK(d.inflight == 0);
  CHECK(d.dead == 0);
  REQUIRE(d.oldest_waiting);
  CHECK(*d.oldest_waiting == at_ms(kStartMs));
}

TEST_CASE("every key of a channel carries the channel's hash tag", "[queue][keys]") {
  Fixture f;
  NewDelivery later = routine("y3");
  later.publish_at = f.clock.now() + 1h;
  REQUIRE(f.enqueue({routine("y1"), alert("y2"), later, routine("y4"), routine("y5")}) == 5);
  Claimed c = f.claim(1, 3);
  REQUIRE(c.deliveries.size() == 4);
  REQUIRE(f.queue.complete(
      f.conn, kChannel,
      {published(c.deliveries[0]), retry(c.deliveries[1], 1s), dead(c.deliveries[2])}));

  std::set<std::string> keys;
  std::string cursor = "0";
  do {
    auto page = f.raw({"SCAN", cursor, "MATCH", f.options.prefix + "*", "COUNT", "1000"});
    cursor = page.elements.at(0).str;
    for (const auto& k : page.elements.at(1).elements) keys.insert(k.str);
  } while (cursor != "0");

  const std::string tagged = f.options.prefix + "{weibo}:";
  for (const auto& k : keys) {
    INFO(k);
    CHECK(k.rfind(tagged, 0) == 0);
  }
  for (const char* expected : {"wake", "wake:alert", "timed", "inflight", "dead", "tally:2026",
                               "lease_seq", "d:y1.weibo", "d:y3.weibo"}) {
    INFO(expected);
    CHECK(keys.count(tagged + expected) == 1);
  }
}

TEST_CASE("the queue survives a script cache flush", "[queue]") {
  // A server of its own: a flush of the shared one would make other tests' scripts reload.
  test::OwnRedisServer redis;
  Fixture f(redis.options());
  REQUIRE(f.enqueue({routine("f1")}) == 1);
  REQUIRE(f.conn.command({"SCRIPT", "FLUSH"}));
  Delivery d = f.claim_one();
  REQUIRE(f.conn.command({"SCRIPT", "FLUSH"}));
  CHECK(f.complete(published(d)) == CompletionResult::applied);
}

TEST_CASE("a deferral gives its attempt back and is buried only past its limit", "[queue]") {
  Fixture f;  // max_attempts 3
  f.enqueue({routine("df")});
  auto defer = [&](const Delivery& d, std::chrono::milliseconds limit) {
    Completion c = retry(d, 1s, "publishing");
    c.outcome = OutcomeKind::deferred;
    c.error_code = "wechat_publishing";
    c.defer_limit = limit;
    return f.complete(c);
  };
  // Ten deferrals in a row: never a dead letter, and the attempt count stays at what it was.
  for (int i = 0; i < 10; ++i) {
    Delivery d = f.claim_one();
    CHECK(d.attempt == 1);
    CHECK(defer(d, 1h) == CompletionResult::applied);
    DeliveryRecord r = f.record(f.id("df"));
    CHECK(r.state == DeliveryState::retry_wait);
    CHECK(r.attempts == 0);
    CHECK(r.last_error_code == "wechat_publishing");
    f.clock.advance(1s);
  }
  CHECK(f.depths().dead == 0);
  // A real failure in between spends an attempt and ends the run of deferrals.
  Delivery d = f.claim_one();
  CHECK(f.complete(retry(d, 1s)) == CompletionResult::applied);
  CHECK(f.record(f.id("df")).attempts == 1);
  const std::string ledger = f.queue.key(kChannel, "d:" + f.id("df"));
  CHECK(f.raw({"HEXISTS", ledger, "deferred_since"}).integer == 0);
  // A run longer than the limit is buried as deferred_too_long.
  f.clock.advance(1s);
  d = f.claim_one();
  CHECK(defer(d, 1h) == CompletionResult::applied);
  f.clock.advance(1h);
  d = f.claim_one();
  CHECK(defer(d, 1h) == CompletionResult::buried);
  DeliveryRecord r = f.record(f.id("df"));
  CHECK(r.state == DeliveryState::dead);
  CHECK(r.last_error_code == "deferred_too_long");
  CHECK_THAT(r.last_error, Catch::Contains("wechat_publishing"));
  CHECK(f.depths().dead == 1);
}

TEST_CASE("an ambiguous attempt is remembered, and past max_attempts gets one look-only attempt",
          "[queue]") {
  Fixture f;  // max_attempts 3
  f.enqueue({routine("am")});
  Delivery d = f.claim_one();
  CHECK_FALSE(d.maybe_sent);
  CHECK_FALSE(d.lookup_only);
  Completion ambiguous = retry(d, 1s, "timed out after sending");
  ambiguous.maybe_sent = true;
  REQUIRE(f.complete(ambiguous) == CompletionResult::applied);
  f.clock.advance(1s);
  d = f.claim_one();
  CHECK(d.maybe_sent);  // the next attempt looks before it sends
  CHECK_FALSE(d.lookup_only);
  REQUIRE(f.complete(retry(d, 1s)) == CompletionResult::applied);
  f.clock.advance(1s);
  d = f.claim_one();
  CHECK(d.attempt == 3);
  ambiguous = retry(d, 1s, "timed out again");
  ambiguous.maybe_sent = true;
  // Out of attempts, but the platform may have it: one more attempt, to look only.
  REQUIRE(f.complete(ambiguous) == CompletionResult::applied);
  CHECK(f.record(f.id("am")).state == DeliveryState::retry_wait);
  f.clock.advance(1s);
  d = f.claim_one();
  CHECK(d.maybe_sent);
  CHECK(d.lookup_only);
  // Its look failing (a retry) buries it; the maybe_sent mark survives into a replay.
  CHECK(f.complete(retry(d, 1s)) == CompletionResult::buried);
  CHECK(f.record(f.id("am")).state == DeliveryState::dead);
  REQUIRE(f.queue.replay(f.conn, f.id("am")));
  d = f.claim_one();
  CHECK(d.maybe_sent);
  CHECK_FALSE(d.lookup_only);
  CHECK(d.attempt == 1);
  // Published clears the marks.
  REQUIRE(f.complete(published(d)) == CompletionResult::applied);
  const std::string ledger = f.queue.key(kChannel, "d:" + f.id("am"));
  CHECK(f.raw({"HEXISTS", ledger, "maybe_sent"}).integer == 0);
}

TEST_CASE("a lease that expires mid-call marks the delivery maybe_sent", "[queue]") {
  Fixture f;  // lease 10 s, max_attempts 3
  f.enqueue({routine("ls")});
  for (int attempt = 1; attempt <= 3; ++attempt) {
    Delivery d = f.claim_one("worker-" + std::to_string(attempt));
    CHECK(d.attempt == attempt);
    CHECK(d.maybe_sent == (attempt > 1));
    f.clock.advance(11s);  // the worker died: nobody acks
  }
  // The third expiry used the last attempt: instead of a burial, attempts that only look, up to
  // twice max_attempts.
  for (int look = 4; look <= 6; ++look) {
    Delivery last = f.claim_one("worker-" + std::to_string(look));
    CHECK(last.attempt == look);
    CHECK(last.maybe_sent);
    CHECK(last.lookup_only);
    f.clock.advance(11s);
  }
  Claimed none = f.claim(1, 1, "worker-7");
  CHECK(none.deliveries.empty());
  DeliveryRecord r = f.record(f.id("ls"));
  CHECK(r.state == DeliveryState::dead);
  CHECK(r.last_error_code == "lease_expired");
}

}  // namespace herald

namespace herald {
namespace {

// A host clock that runs ahead of the others, as an unsynchronised server's would. It does not
// pin the queue's time: the scripts read Redis's clock whatever this one says.
class ClockAhead final : public Clock {
 public:
  explicit ClockAhead(Millis by) : by_(by) {}
  TimePoint now() const override { return std::chrono::system_clock::now() + by_; }

 private:
  Millis by_;
};

struct TwoHosts {
  QueueOptions options = [] {
    QueueOptions o;
    o.prefix = test::unique_key_prefix("skew");
    o.lease = 10s;
    o.max_attempts = 3;
    return o;
  }();
  SystemClock on_time;
  ClockAhead ahead{1h};
  DeliveryQueue punctual{options, on_time};
  DeliveryQueue hasty{options, ahead};
  RedisConnection conn{test::test_redis_options()};

  Claimed claim(DeliveryQueue& q, const std::string& owner) {
    auto claimed = q.claim(conn, kChannel, ClaimRequest{owner, 1, 1});
    REQUIRE(claimed);
    return *claimed;
  }
};

}  // namespace

TEST_CASE("a host whose clock runs ahead takes no live lease and releases nothing early",
          "[queue][clock]") {
  TwoHosts h;

  SECTION("a live lease stays with its holder") {
    REQUIRE(h.punctual.enqueue(h.conn, {routine("held")}));
    Claimed first = h.claim(h.punctual, "on-time");
    REQUIRE(first.deliveries.size() == 1);
    // An hour ahead is far past the 10 s lease by the hasty host's clock, not by Redis's.
    CHECK(h.claim(h.hasty, "ahead").deliveries.empty());
    // A heartbeat from a host running ahead extends from Redis's now, not to an hour ahead.
    DeliveryQueue hasty_holder{h.options, h.ahead};
    auto extended = hasty_holder.heartbeat(
        h.conn, kChannel, {{first.deliveries[0].id, first.deliveries[0].lease_token}});
    REQUIRE(extended);
    CHECK(*extended == 1);
    auto score =
        h.conn.command({"ZSCORE", h.punctual.key(kChannel, "inflight"), first.deliveries[0].id});
    REQUIRE(score);
    const auto deadline = std::chrono::milliseconds(std::stoll(score->str));
    const auto real_now = std::chrono::system_clock::now().time_since_epoch();
    CHECK(deadline > real_now);
    CHECK(deadline <= real_now + 11s);
    CHECK(h.claim(h.hasty, "ahead").deliveries.empty());
  }

  SECTION("an embargoed delivery waits for its time by Redis's clock") {
    NewDelivery embargoed = routine("embargoed");
    embargoed.publish_at = std::chrono::system_clock::now() + 30min;
    // Enqueued by the hasty host, whose clock already reads past publish_at: still scheduled.
    REQUIRE(h.hasty.enqueue(h.conn, {embargoed}));
    Claimed c = h.claim(h.hasty, "ahead");
    CHECK(c.deliveries.empty());
    REQUIRE(c.next_due_in);
    CHECK(*c.next_due_in > 29min);
    CHECK(*c.next_due_in <= 30min);
  }

  SECTION("a retry waits its delay by Redis's clock") {
    REQUIRE(h.hasty.enqueue(h.conn, {routine("flaky")}));
    Claimed c = h.claim(h.hasty, "ahead");
    REQUIRE(c.deliveries.size() == 1);
    Completion retry_later = retry(c.deliveries[0], 1min);
    auto applied = h.hasty.complete(h.conn, kChannel, {retry_later});
    REQUIRE(applied);
    CHECK(applied->at(0) == CompletionResult::applied);
    CHECK(h.claim(h.punctual, "on-time").deliveries.empty());
  }
}

}  // namespace herald
