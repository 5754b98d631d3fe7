// Cancelling deliveries (queue/lua/cancel.lua) and retracting items (ItemStore::retract) against a
// real redis-server: what leaves which set, the cancel mark on work in flight, tombstones, the
// recall deliveries a retraction queues, idempotency and the audit trail.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/item.h"
#include "queue/audit_log.h"
#include "queue/delivery_queue.h"
#include "queue/item_store.h"
#include "tests/support/enum_printers.h"
#include "tests/support/redis_server.h"
#include "tests/support/test_time.h"

namespace herald {
namespace {

using namespace std::chrono_literals;
const std::string kChannel = "weibo";

NewDelivery alert(const std::string& item, const std::string& channel = kChannel) {
  NewDelivery nd;
  nd.delivery.id = delivery_id_for(item, channel);
  nd.delivery.item_id = item;
  nd.delivery.channel = channel;
  nd.delivery.lane = Lane::alert;
  nd.delivery.category = "overseas_safety";
  nd.delivery.kind = herald::DeliveryKind::alert;
  nd.delivery.payload = R"({"title":"t"})";
  return nd;
}

struct Fixture {
  ManualClock clock{test::time_at("2026-03-10T10:00:00+08:00")};
  QueueOptions options = [] {
    QueueOptions o;
    o.prefix = test::unique_key_prefix("cancel");
    o.lease = 10s;
    o.max_attempts = 1;
    return o;
  }();
  DeliveryQueue queue{options, clock};
  RedisConnection conn{test::test_redis_options()};

  void enqueue(const std::vector<NewDelivery>& ds) {
    auto added = queue.enqueue(conn, ds);
    REQUIRE(added);
  }
  Delivery claim_one() {
    auto claimed = queue.claim(conn, kChannel, ClaimRequest{"worker-a", 1, 1});
    REQUIRE(claimed);
    REQUIRE(claimed->deliveries.size() == 1);
    return claimed->deliveries.front();
  }
  CancelResult cancel(const std::string& id) {
    auto r = queue.cancel(conn, id, "duty", "wrong province", id.substr(0, id.find('.')));
    REQUIRE(r);
    return *r;
  }
  std::string state(const std::string& id) {
    auto r = queue.get(conn, id);
    REQUIRE(r);
    return *r ? to_string((*r)->state) : "";
  }
  long long count(const char* type, const std::string& suffix, const std::string& member = "") {
    std::vector<std::string> args = {type, queue.key(kChannel, suffix)};
    if (!member.empty()) args.push_back(member);
    auto r = conn.command(args);
    REQUIRE(r);
    return r->is_nil() ? 0 : r->integer;
  }
  std::vector<std::string> audit_events(const std::string& id) {
    auto r = conn.command({"LRANGE", queue.key(kChannel, "log:" + id), "0", "-1"});
    REQUIRE(r);
    std::vector<std::string> events;
    for (const auto& entry : r->elements) {
      const auto kv = nlohmann::json::parse(entry.str);  // [field, value, ...]
      for (std::size_t i = 0; i + 1 < kv.size(); i += 2) {
        if (kv[i] == "event") events.push_back(kv[i + 1]);
      }
    }
    return events;
  }
};

Completion completion(const Delivery& d, OutcomeKind outcome) {
  Completion c;
  c.delivery_id = d.id;
  c.lease_token = d.lease_token;
  c.outcome = outcome;
  c.remote_id = "remote-1";
  c.error_message = "retracted before publishing";
  return c;
}

}  // namespace

TEST_CASE("cancelling takes an unpublished delivery out of wherever it waits", "[queue][cancel]") {
  Fixture f;
  const std::string id = delivery_id_for("a1", kChannel);

  SECTION("a queued one leaves its lane and is never claimed") {
    f.enqueue({alert("a1")});
    REQUIRE(f.count("LLEN", "alert") == 1);
    const CancelResult r = f.cancel(id);
    CHECK(r.result == "cancelled");
    CHECK(r.state_before == "queued");
    CHECK(f.count("LLEN", "alert") == 0);
    CHECK(f.state(id) == "cancelled");
    auto claimed = f.queue.claim(f.conn, kChannel, ClaimRequest{"w", 1, 1});
    REQUIRE(claimed);
    CHECK(claimed->deliveries.empty());
    CHECK(f.audit_events(id) == std::vector<std::string>{"cancelled"});
  }
  SECTION("a scheduled one leaves the timed set and never becomes due") {
    NewDelivery nd = alert("a1");
    nd.publish_at = f.clock.now() + 1h;
    f.enqueue({nd});
    REQUIRE(f.count("ZCARD", "timed") == 1);
    CHECK(f.cancel(id).state_before == "scheduled");
    CHECK(f.count("ZCARD", "timed") == 0);
    f.clock.advance(2h);
    auto claimed = f.queue.claim(f.conn, kChannel, ClaimRequest{"w", 1, 1});
    REQUIRE(claimed);
    CHECK(claimed->deliveries.empty());
    CHECK(f.state(id) == "cancelled");
  }
  SECTION("a dead letter is cancelled too, so it can no longer be replayed") {
    f.enqueue({alert("a1")});
    auto done = f.queue.complete(f.conn, kChannel, {completion(f.claim_one(), OutcomeKind::dead)});
    REQUIRE(done);
    REQUIRE(f.count("ZCARD", "dead") == 1);
    CHECK(f.cancel(id).state_before == "dead");
    CHECK(f.count("ZCARD", "dead") == 0);
    auto replayed = f.queue.replay(f.conn, id, "admin");
    REQUIRE_FALSE(replayed);
    CHECK(replayed.error().code == "not_dead");
  }
  SECTION("a published one is left alone: withdrawing it is a recall's job") {
    f.enqueue({alert("a1")});
    auto done =
        f.queue.complete(f.conn, kChannel, {completion(f.claim_one(), OutcomeKind::published)});
    REQUIRE(done);
    CHECK(f.cancel(id).result == "published");
    CHECK(f.state(id) == "published");
  }
  SECTION("an unknown one gets a tombstone that a later enqueue leaves alone") {
    CHECK(f.cancel(id).result == "cancelled");
    f.enqueue({alert("a1")});
    CHECK(f.state(id) == "cancelled");
    CHECK(f.count("LLEN", "alert") == 0);
  }
  SECTION("cancelling twice changes nothing the second time") {
    f.enqueue({alert("a1")});
    f.cancel(id);
    CHECK(f.cancel(id).result == "already_cancelled");
    CHECK(f.audit_events(id).size() == 1);
  }
}

TEST_CASE("a delivery in flight is only marked, and its worker cancels it by lease token",
          "[queue][cancel]") {
  Fixture f;
  const std::string id = delivery_id_for("a1", kChannel);
  f.enqueue({alert("a1")});
  const Delivery claimed = f.claim_one();
  auto marked = f.queue.cancel_requested(f.conn, id);
  REQUIRE(marked);
  CHECK_FALSE(*marked);

  const CancelResult r = f.cancel(id);
  CHECK(r.result == "cancel_requested");
  CHECK(f.state(id) == "in_flight");
  marked = f.queue.cancel_requested(f.conn, id);
  REQUIRE(marked);
  CHECK(*marked);
  CHECK(f.cancel(id).result == "cancel_requested");  // marked once, audited once

  SECTION("the holder's cancelled outcome applies once, and never counts") {
    auto done = f.queue.complete(f.conn, kChannel, {completion(claimed, OutcomeKind::cancelled)});
    REQUIRE(done);
    CHECK(done->at(0) == CompletionResult::applied);
    CHECK(f.state(id) == "cancelled");
    CHECK(f.count("ZCARD", "inflight") == 0);
    auto again = f.queue.complete(f.conn, kChannel, {completion(claimed, OutcomeKind::cancelled)});
    REQUIRE(again);
    CHECK(again->at(0) == CompletionResult::stale);
    auto tally = f.queue.read_tally(f.conn, kChannel, 2026);
    REQUIRE(tally);
    CHECK(tally->empty());
    CHECK(f.audit_events(id) ==
          std::vector<std::string>{"attempt", "cancel_requested", "cancelled"});
  }
  SECTION("a cancelled outcome and a published one in one batch each apply") {
    f.enqueue({alert("a2")});
    const Delivery other = f.claim_one();
    auto done = f.queue.complete(
        f.conn, kChannel,
        {completion(other, OutcomeKind::published), completion(claimed, OutcomeKind::cancelled)});
    REQUIRE(done);
    REQUIRE(done->size() == 2);
    CHECK(done->at(0) == CompletionResult::applied);
    CHECK(done->at(1) == CompletionResult::applied);
    CHECK(f.state(other.id) == "published");
    CHECK(f.state(id) == "cancelled");
  }
  SECTION("a cancelled outcome with a lost lease is stale and changes nothing") {
    Delivery wrong = claimed;
    wrong.lease_token = "not-the-token";
    auto done = f.queue.complete(f.conn, kChannel, {completion(wrong, OutcomeKind::cancelled)});
    REQUIRE(done);
    CHECK(done->at(0) == CompletionResult::stale);
    CHECK(f.state(id) == "in_flight");
  }
}

namespace {

struct StoreFixture : Fixture {
  ItemStore store{options.prefix, queue, clock};
  AuditLog audit{options.prefix};

  Item make_item(const std::string& id, std::vector<std::string> channels) {
    Item item;
    item.id = id;
    item.kind = ItemKind::alert;
    item.category = Category::overseas_safety;
    item.title = "提醒";
    item.channels = std::move(channels);
    item.alert = AlertInfo{"caution", "Moderate", "Expected", "Likely", {{"TH", "泰国"}}, {}, ""};
    item.author = "duty";
    item.created_at = clock.now();
    return item;
  }
  Item submit(std::vector<std::string> channels, bool approve = true) {
    Item item = make_item(new_item_id(clock.now()), std::move(channels));
    REQUIRE(store.create(conn, item, "duty", "", ""));
    if (!approve) return item;
    for (const char* who : {"rev", "rev2"}) {
      auto r = store.review(conn, ReviewRequest{item.id, who, "approve", "", 2, 2});
      REQUIRE(r);
    }
    REQUIRE(store.fan_out(conn, item));
    return item;
  }
  std::string item_state(const std::string& id) {
    auto s = store.get(conn, id);
    REQUIRE(s);
    REQUIRE(s->has_value());
    return (*s)->state;
  }
};

}  // namespace

TEST_CASE("retracting an item cancels what is pending and recalls what went out",
          "[queue][retract]") {
  StoreFixture f;
  const Item item = f.submit({"weibo", "portal"});
  const std::string weibo = delivery_id_for(item.id, "weibo");
  const std::string portal = delivery_id_for(item.id, "portal");
  const std::string weibo_recall = delivery_id_for(item.id + "-recall", "weibo");
  // weibo publishes, portal is still queued.
  const Delivery d = f.claim_one();
  REQUIRE(d.id == weibo);
  REQUIRE(f.queue.complete(f.conn, "weibo", {completion(d, OutcomeKind::published)}));

  auto r = f.store.retract(f.conn, item.id, "duty", "发布有误");
  REQUIRE(r);
  CHECK(r->state == "retracted");
  CHECK_FALSE(r->already);
  REQUIRE(r->plan.size() == 2);
  CHECK(r->plan[0].channel == "weibo");
  CHECK(r->plan[0].action == "recall");
  CHECK(r->plan[0].recall_id == weibo_recall);
  CHECK(r->plan[0].recall_state == "queued");
  CHECK(r->plan[1].action == "cancelled");
  CHECK(r->plan[1].delivery_state == "cancelled");
  CHECK(f.state(portal) == "cancelled");
  CHECK(f.item_state(item.id) == "retracted");

  auto recall = f.queue.claim(f.conn, "weibo", ClaimRequest{"w", 1, 0});
  REQUIRE(recall);
  REQUIRE(recall->deliveries.size() == 1);
  const Delivery& rd = recall->deliveries.front();
  CHECK(rd.id == weibo_recall);
  CHECK(rd.kind == herald::DeliveryKind::retraction);
  CHECK(rd.item_id == item.id);
  const auto payload = nlohmann::json::parse(rd.payload);
  CHECK(payload.at("op") == "recall");
  CHECK(payload.at("target") == weibo);
  CHECK(payload.at("reason") == "发布有误");

  SECTION("a second retraction answers the same and queues nothing twice") {
    auto again = f.store.retract(f.conn, item.id, "duty", "another reason");
    REQUIRE(again);
    CHECK(again->already);
    CHECK(again->state == "retracted");
    CHECK(again->reason == "发布有误");
    REQUIRE(again->plan.size() == 2);
    CHECK(again->plan[0].recall_state == "in_flight");
    auto none = f.queue.claim(f.conn, "weibo", ClaimRequest{"w", 1, 1});
    REQUIRE(none);
    CHECK(none->deliveries.empty());
  }
  SECTION("the item's audit trail records who retracted it and why") {
    auto events = f.audit.history(f.conn, item.id, item.channels);
    REQUIRE(events);
    bool found = false;
    for (const auto& e : *events) {
      if (e.event != "retracted") continue;
      found = true;
      CHECK(e.who == "duty");
      CHECK(e.fields.at("reason") == "发布有误");
    }
    CHECK(found);
  }
}

TEST_CASE("what cannot be retracted is refused, and an item under review is withdrawn",
          "[queue][retract]") {
  StoreFixture f;
  SECTION("an item still under review is withdrawn and can no longer be approved") {
    const Item item = f.submit({"weibo"}, /*approve=*/false);
    auto r = f.store.retract(f.conn, item.id, "duty", "撤回");
    REQUIRE(r);
    CHECK(r->state == "withdrawn");
    CHECK(r->plan.empty());
    auto review = f.store.review(f.conn, ReviewRequest{item.id, "rev", "approve", "", 2, 2});
    REQUIRE_FALSE(review);
    CHECK(review.error().code == "not_pending");
  }
  SECTION("a rejected item is refused") {
    const Item item = f.submit({"weibo"}, /*approve=*/false);
    REQUIRE(f.store.review(f.conn, ReviewRequest{item.id, "rev", "reject", "no", 2, 2}));
    auto r = f.store.retract(f.conn, item.id, "duty", "撤回");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == "not_retractable");
  }
  SECTION("an unknown item, or no reason") {
    auto unknown = f.store.retract(f.conn, new_item_id(f.clock.now()), "duty", "x");
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().code == "not_found");
    const Item item = f.submit({"weibo"});
    auto blank = f.store.retract(f.conn, item.id, "duty", "  ");
    REQUIRE_FALSE(blank);
    CHECK(blank.error().field == "reason");
  }
  SECTION("an approved item whose fan-out had not run yet is never queued afterwards") {
    const Item item = f.submit({"weibo"}, /*approve=*/false);
    for (const char* who : {"rev", "rev2"}) {
      REQUIRE(f.store.review(f.conn, ReviewRequest{item.id, who, "approve", "", 2, 2}));
    }
    REQUIRE(f.store.retract(f.conn, item.id, "duty", "撤回"));
    REQUIRE(f.store.fan_out(f.conn, item));  // a fan-out that was already running
    CHECK(f.state(delivery_id_for(item.id, "weibo")) == "cancelled");
    CHECK(f.item_state(item.id) == "retracted");
    auto none = f.queue.claim(f.conn, "weibo", ClaimRequest{"w", 1, 1});
    REQUIRE(none);
    CHECK(none->deliveries.empty());
  }
}

TEST_CASE("a correction's deliveries are of kind correction", "[queue][retract]") {
  StoreFixture f;
  const Item original = f.submit({"weibo"});
  Item correction = f.make_item(new_item_id(f.clock.now()), {"weibo"});
  correction.corrects = original.id;
  REQUIRE(f.store.create(f.conn, correction, "duty", "", ""));
  auto stored = f.store.get(f.conn, correction.id);
  REQUIRE(stored);
  REQUIRE(stored->has_value());
  CHECK((*stored)->item.corrects == original.id);
  REQUIRE(f.store.fan_out(f.conn, correction));
  auto claimed = f.queue.claim(f.conn, "weibo", ClaimRequest{"w", 2, 0});
  REQUIRE(claimed);
  REQUIRE(claimed->deliveries.size() == 2);
  CHECK(claimed->deliveries[0].kind == herald::DeliveryKind::alert);
  CHECK(claimed->deliveries[1].kind == herald::DeliveryKind::correction);
}

TEST_CASE("retracting an alert withdraws its corrections under review, and none is approved after",
          "[queue][retract]") {
  StoreFixture f;
  const Item original = f.submit({"weibo"});
  Item correction = f.make_item(new_item_id(f.clock.now()), {"weibo"});
  correction.corrects = original.id;

  SECTION("a correction under review is withdrawn, with the reason in its audit trail") {
    REQUIRE(f.store.create(f.conn, correction, "duty", "", ""));
    REQUIRE(f.store.review(f.conn, ReviewRequest{correction.id, "rev", "approve", "", 2, 2}));
    auto r = f.store.retract(f.conn, original.id, "duty", "情况已变化");
    REQUIRE(r);
    CHECK(r->withdrawn_corrections == std::vector<std::string>{correction.id});
    CHECK(f.item_state(correction.id) == "withdrawn");
    auto history = f.audit.history(f.conn, correction.id, {});
    REQUIRE(history);
    REQUIRE_FALSE(history->empty());
    CHECK(history->back().event == "withdrawn");
    CHECK(history->back().fields["reason"].find(original.id) != std::string::npos);
    CHECK(history->back().fields["reason"].find("情况已变化") != std::string::npos);

    auto second = f.store.review(f.conn, ReviewRequest{correction.id, "rev2", "approve", "", 2, 2});
    REQUIRE_FALSE(second);
    CHECK(second.error().code == "not_pending");
    // Retracting again withdraws nothing more.
    auto again = f.store.retract(f.conn, original.id, "duty", "情况已变化");
    REQUIRE(again);
    CHECK(again->withdrawn_corrections.empty());
  }
  SECTION("a correction still pending after the retraction cannot be approved") {
    // Stored after the retraction's withdrawal ran (a request racing it): only review() stands
    // between it and a CAP Update after the Cancel.
    REQUIRE(f.store.retract(f.conn, original.id, "duty", "情况已变化"));
    REQUIRE(f.store.create(f.conn, correction, "duty", "", ""));
    auto r = f.store.review(f.conn, ReviewRequest{correction.id, "rev", "approve", "", 2, 2});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == "original_retracted");
    CHECK(f.item_state(correction.id) == "pending_review");
    auto rejected = f.store.review(f.conn, ReviewRequest{correction.id, "rev", "reject", "", 2, 2});
    REQUIRE(rejected);
    CHECK(rejected->state == "rejected");
  }
  SECTION("corrections of an item not retracted are approved as before") {
    REQUIRE(f.store.create(f.conn, correction, "duty", "", ""));
    for (const char* who : {"rev", "rev2"}) {
      REQUIRE(f.store.review(f.conn, ReviewRequest{correction.id, who, "approve", "", 2, 2}));
    }
    CHECK(f.item_state(correction.id) == "approved");
  }
}

TEST_CASE("a drill gets no delivery on a channel that withholds drills", "[queue][drills]") {
  StoreFixture f;
  f.store.withhold_drills_on({"weibo", "wechat"});
  auto drill = [&](std::vector<std::string> channels, const std::string& status = "exercise") {
    Item item = f.make_item(new_item_id(f.clock.now()), std::move(channels));
    item.status = status;
    REQUIRE(f.store.create(f.conn, item, "duty", "", ""));
    for (const char* who : {"rev", "rev2"}) {
      REQUIRE(f.store.review(f.conn, ReviewRequest{item.id, who, "approve", "", 2, 2}));
    }
    REQUIRE(f.store.fan_out(f.conn, item));
    REQUIRE(f.store.fan_out(f.conn, item));  // repeated by recovery: audited once
    return item;
  };
  auto withheld_events = [&](const std::string& id) {
    auto history = f.audit.history(f.conn, id, {});
    REQUIRE(history);
    std::vector<AuditEvent> out;
    for (const auto& e : *history) {
      if (e.event == "drill_withheld") out.push_back(e);
    }
    return out;
  };

  SECTION("withheld channels are skipped and named in the audit trail") {
    const Item item = drill({"weibo", "portal", "wechat"});
    CHECK(f.state(delivery_id_for(item.id, "weibo")).empty());
    CHECK(f.state(delivery_id_for(item.id, "wechat")).empty());
    CHECK(f.state(delivery_id_for(item.id, "portal")) == "queued");
    CHECK(f.item_state(item.id) == "queued");
    const auto events = withheld_events(item.id);
    REQUIRE(events.size() == 1);
    CHECK(events[0].fields.at("channels") == "weibo,wechat");
  }
  SECTION("a drill withheld everywhere is final at once") {
    const Item item = drill({"weibo"});
    CHECK(f.state(delivery_id_for(item.id, "weibo")).empty());
    CHECK(f.item_state(item.id) == "withheld");
    CHECK(withheld_events(item.id).size() == 1);
  }
  SECTION("an actual item goes everywhere") {
    const Item item = drill({"weibo", "portal"}, "actual");
    CHECK(f.state(delivery_id_for(item.id, "weibo")) == "queued");
    CHECK(f.state(delivery_id_for(item.id, "portal")) == "queued");
    CHECK(withheld_events(item.id).empty());
  }
}

TEST_CASE(
    "a waiting delivery holds no copy of its item: the claimer reads the body once, stored "
    "with the item",
    "[queue][storage]") {
  StoreFixture f;
  const Item item = f.submit({"weibo", "portal"});
  const std::string weibo = delivery_id_for(item.id, "weibo");
  auto has_payload = f.conn.command({"HEXISTS", f.queue.key("weibo", "d:" + weibo), "payload"});
  REQUIRE(has_payload);
  CHECK(has_payload->integer == 0);

  std::vector<Delivery> claimed = {f.claim_one()};
  REQUIRE(claimed[0].id == weibo);
  CHECK(claimed[0].payload.empty());
  // A recall-like delivery that carries its own payload is left as it is.
  Delivery own;
  own.item_id = item.id;
  own.payload = R"({"op":"recall"})";
  claimed.push_back(own);
  Delivery orphan;
  orphan.item_id = "01J00000000000000000000000";
  claimed.push_back(orphan);
  REQUIRE(f.store.load_payloads(f.conn, claimed));
  CHECK(nlohmann::json::parse(claimed[0].payload) == item_to_json(item));
  CHECK(claimed[1].payload == R"({"op":"recall"})");
  CHECK(claimed[2].payload.empty());

  // The trail is one short list per item and per delivery, not a stream each.
  auto type = f.conn.command({"TYPE", f.audit.item_log(item.id)});
  REQUIRE(type);
  CHECK(type->str == "list");
  auto history = f.audit.history(f.conn, item.id, {"weibo", "portal"});
  REQUIRE(history);
  std::vector<std::string> events;
  for (const auto& e : *history) events.push_back(e.event + "@" + e.delivery_id);
  CHECK(events == std::vector<std::string>{"submitted@", "approval@", "approval@", "approved@",
                                           "queued@", "attempt@" + weibo});
}

TEST_CASE("an audit trail an older version kept as a stream is still read, before the list",
          "[queue][storage]") {
  StoreFixture f;
  const Item item = f.submit({"weibo"}, /*approve=*/false);
  const std::string old_stream = f.options.prefix + "{items}:audit:" + item.id;
  REQUIRE(f.conn.command({"XADD", old_stream, "1-1", "event", "submitted", "who", "old-duty", "at",
                          std::to_string(to_unix_ms(item.created_at) - 1000)}));
  auto history = f.audit.history(f.conn, item.id, {"weibo"});
  REQUIRE(history);
  REQUIRE(history->size() == 2);
  CHECK((*history)[0].who == "old-duty");
  CHECK((*history)[1].who == "duty");
}

}  // namespace herald
