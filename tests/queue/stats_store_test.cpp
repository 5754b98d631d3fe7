// StatsStore against a real redis-server, deliveries driven through the real DeliveryQueue with a
// ManualClock: the counting rules at their boundaries (year end at +08:00, one item on four
// channels, first publication settled out of order, retraction, correction, drill, dead letter),
// reconciliation with the ledger, imports, and parameter checks.
#include "queue/stats_store.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <string>

#include "queue/delivery_queue.h"
#include "tests/support/enum_printers.h"
#include "tests/support/redis_server.h"
#include "tests/support/test_time.h"

namespace herald {
namespace {

using namespace std::chrono_literals;
using test::time_at;

const std::vector<std::string> kChannels = {"weibo", "wechat", "portal", "webhook"};

struct Spec {
  std::string kind = "publication";  // tally kind
  std::string category = "work_news";
  std::string level;
  bool exercise = false;
};

struct Fixture {
  ManualClock clock{time_at("2026-03-10T10:00:00+08:00")};
  std::string prefix = test::unique_key_prefix("stats");
  QueueOptions options = [this] {
    QueueOptions o;
    o.prefix = prefix;
    o.lease = 10s;
    o.max_attempts = 2;
    o.utc_offset_minutes = 480;
    return o;
  }();
  DeliveryQueue queue{options, clock};
  StatsStore stats{prefix, 480};
  RedisConnection conn{test::test_redis_options()};

  Fixture() { REQUIRE(stats.register_channels(conn, kChannels)); }

  void enqueue(const std::string& item, const std::string& channel, const Spec& spec,
               const std::string& id_base = "") {
    NewDelivery nd;
    nd.delivery.id = delivery_id_for(id_base.empty() ? item : id_base, channel);
    nd.delivery.item_id = item;
    nd.delivery.channel = channel;
    nd.delivery.lane = spec.kind == "publication" ? Lane::routine : Lane::alert;
    nd.delivery.category = spec.category;
    nd.delivery.kind = *herald::delivery_kind_from_string(spec.kind);
    nd.delivery.level = spec.level;
    nd.delivery.exercise = spec.exercise;
    nd.delivery.payload = "{}";
    auto added = queue.enqueue(conn, {nd});
    REQUIRE(added);
    REQUIRE(*added == 1);
  }

  Delivery claim(const std::string& channel) {
    auto c = queue.claim(conn, channel, ClaimRequest{"w", 1, 1});
    REQUIRE(c);
    REQUIRE(c->deliveries.size() == 1);
    return c->deliveries.front();
  }

  void finish(const std::string& channel, OutcomeKind outcome, bool counted = true) {
    const Delivery d = claim(channel);
    Completion c;
    c.delivery_id = d.id;
    c.lease_token = d.lease_token;
    c.outcome = outcome;
    c.remote_id = "r-" + d.id;
    c.error_code = "boom";
    c.counted = counted;
    auto r = queue.complete(conn, channel, {c});
    REQUIRE(r);
    REQUIRE(r->front() == CompletionResult::applied);
  }

  // Enqueues and publishes `item` on each channel now, and settles the item counts.
  void publish(const std::string& item, const std::vector<std::string>& channels,
               const Spec& spec = {}) {
    for (const auto& ch : channels) {
      enqueue(item, ch, spec);
      finish(ch, OutcomeKind::published);
    }
    settle();
  }

  void settle() {
    for (const auto& ch : kChannels) REQUIRE(stats.settle_first_publications(conn, ch, 0ms));
  }

  std::vector<StatsRow> query(const std::string& from, const std::string& to,
                              std::vector<std::string> group_by = {}) {
    auto rows = stats.query(conn, {from, to, std::move(group_by)});
    REQUIRE(rows);
    return *rows;
  }

  StatsRow total(const std::string& from, const std::string& to) {
    auto rows = query(from, to);
    REQUIRE(rows.size() == 1);
    return rows.front();
  }

  ReconcileReport reconcile(const std::string& from, const std::string& to) {
    auto r = stats.reconcile(conn, from, to);
    REQUIRE(r);
    return *r;
  }
};

std::string item_id(char c) {
  return std::string(25, '0') + c;
}

}  // namespace

TEST_CASE("an item on four channels counts as one item and four deliveries", "[queue][stats]") {
  Fixture f;
  f.publish(item_id('1'), kChannels, {"alert", "overseas_safety", "avoid", false});
  const StatsRow t = f.total("2026-01-01", "2026-12-31");
  CHECK(t.items == 1);
  CHECK(t.deliveries == 4);
  CHECK(t.failed == 0);

  SECTION("grouped by channel, each channel has the item once and its own delivery") {
    const auto rows = f.query("2026-01-01", "2026-12-31", {"channel"});
    REQUIRE(rows.size() == 4);
    for (const auto& row : rows) {
      CHECK(row.items == 1);
      CHECK(row.deliveries == 1);
    }
    CHECK(rows.front().group.at("channel") == "portal");  // sorted by group value
  }
  SECTION("grouped by category, kind and level, the alert's level is kept") {
    const auto rows = f.query("2026-01-01", "2026-12-31", {"category", "kind", "level"});
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].group == std::map<std::string, std::string>{{"category", "overseas_safety"},
                                                              {"kind", "alert"},
                                                              {"level", "avoid"}});
    CHECK(rows[0].items == 1);
    CHECK(rows[0].deliveries == 4);
  }
  SECTION("settling again never counts the item twice") {
    f.settle();
    CHECK(f.total("2026-01-01", "2026-12-31").items == 1);
  }
  SECTION("the counters do not grow with the number of deliveries: one field per day and kind") {
    for (int i = 0; i < 50; ++i) f.publish("x" + std::to_string(100 + i), {"weibo"});
    auto len = f.conn.command({"HLEN", f.prefix + "{weibo}:tally:2026"});
    REQUIRE(len);
    CHECK(len->integer == 2);  // the alert's field and the publications' field
    CHECK(f.total("2026-03-10", "2026-03-10").items == 51);
  }
}

TEST_CASE("the office's day decides the year: 23:59:59 on 31 December at +08:00 is that year",
          "[queue][stats]") {
  Fixture f;
  f.clock.set(time_at("2025-12-31T23:59:59+08:00"));  // 15:59:59 UTC
  f.publish(item_id('a'), {"weibo"});
  f.clock.set(time_at("2026-01-01T00:00:00+08:00"));  // 16:00:00 UTC on 31 Dec
  f.publish(item_id('b'), {"weibo"});

  CHECK(f.total("2025-01-01", "2025-12-31").items == 1);
  CHECK(f.total("2026-01-01", "2026-12-31").items == 1);
  const auto days = f.query("2025-12-31", "2026-01-01", {"day"});
  REQUIRE(days.size() == 2);
  CHECK(days[0].group.at("day") == "2025-12-31");
  CHECK(days[1].group.at("day") == "2026-01-01");
  const auto months = f.query("2025-01-01", "2026-12-31", {"month"});
  REQUIRE(months.size() == 2);
  CHECK(months[0].group.at("month") == "2025-12");

  SECTION(
      "an item first published on 31 Dec and on a second channel on 1 Jan counts in the first "
      "year") {
    f.clock.set(time_at("2025-12-31T23:00:00+08:00"));
    f.enqueue(item_id('c'), "weibo", {});
    f.enqueue(item_id('c'), "portal", {});
    f.finish("weibo", OutcomeKind::published);
    f.clock.set(time_at("2026-01-01T01:00:00+08:00"));
    f.finish("portal", OutcomeKind::published);
    f.settle();
    const StatsRow y2025 = f.total("2025-01-01", "2025-12-31");
    const StatsRow y2026 = f.total("2026-01-01", "2026-12-31");
    CHECK(y2025.items == 2);
    CHECK(y2025.deliveries == 2);
    CHECK(y2026.items == 1);
    CHECK(y2026.deliveries == 2);
    CHECK(f.reconcile("2025-01-01", "2026-12-31").ok);
  }
}

TEST_CASE("an item counts on the day of its first delivery even if that one settles last",
          "[queue][stats]") {
  Fixture f;
  const std::string item = item_id('2');
  f.enqueue(item, "weibo", {});
  f.enqueue(item, "portal", {});
  f.finish("weibo", OutcomeKind::published);  // first, on 10 March; its settlement is "lost"
  f.clock.advance(24h);
  f.finish("portal", OutcomeKind::published);  // on 11 March, settled at once
  REQUIRE(f.stats.settle_first_publications(f.conn, "portal", 0ms));
  auto days = f.query("2026-03-01", "2026-03-31", {"day"});
  REQUIRE(days.size() == 2);
  CHECK(days[1].items == 1);  // provisionally on 11 March

  // The recovery loop settles weibo's later: the count moves to the earlier day.
  REQUIRE(f.stats.settle_first_publications(f.conn, "weibo", 0ms));
  days = f.query("2026-03-01", "2026-03-31", {"day"});
  REQUIRE(days.size() == 2);
  CHECK(days[0].group.at("day") == "2026-03-10");
  CHECK(days[0].items == 1);
  CHECK(days[1].items == 0);
  CHECK(f.total("2026-03-01", "2026-03-31").items == 1);
  CHECK(f.reconcile("2026-01-01", "2026-12-31").ok);
}

TEST_CASE("a pending count left by an older version (a plain delivery id) is still settled",
          "[queue][stats]") {
  Fixture f;
  const std::string item = item_id('7');
  f.enqueue(item, "weibo", {});
  f.finish("weibo", OutcomeKind::published);
  // Rewrite the pending member as older versions wrote it: the delivery id alone.
  const std::string pending = f.queue.key("weibo", "firstpub");
  auto members = f.conn.command({"ZRANGE", pending, "0", "-1", "WITHSCORES"});
  REQUIRE(members);
  REQUIRE(members->elements.size() == 2);
  CHECK(members->elements[0].str.find('|') != std::string::npos);  // the new, self-contained form
  const std::string delivery = delivery_id_for(item, "weibo");
  REQUIRE(f.conn.command({"DEL", pending}));
  REQUIRE(f.conn.command({"ZADD", pending, members->elements[1].str, delivery}));

  f.settle();
  CHECK(f.total("2026-03-01", "2026-03-31").items == 1);
  auto left = f.conn.command({"ZCARD", pending});
  REQUIRE(left);
  CHECK(left->integer == 0);
  CHECK(f.reconcile("2026-01-01", "2026-12-31").ok);
}

TEST_CASE("retractions and corrections are counted apart and add no items", "[queue][stats]") {
  Fixture f;
  const std::string original = item_id('3');
  f.publish(original, {"weibo", "portal"});
  // The recall of the weibo delivery: "<item>-recall.weibo", kind retraction, the original's item.
  f.enqueue(original, "weibo", {"retraction", "work_news", "", false}, original + "-recall");
  f.finish("weibo", OutcomeKind::published);
  // A recall that found nothing to withdraw is done but not counted.
  f.enqueue(original, "portal", {"retraction", "work_news", "", false}, original + "-recall");
  f.finish("portal", OutcomeKind::published, /*counted=*/false);
  // A correction: a new item whose deliveries are of kind correction.
  f.publish(item_id('4'), {"weibo", "portal"}, {"correction", "work_news", "", false});

  const StatsRow t = f.total("2026-03-10", "2026-03-10");
  CHECK(t.items == 1);
  CHECK(t.deliveries == 2);
  CHECK(t.retracted == 1);
  CHECK(t.corrected == 2);
  const auto by_kind = f.query("2026-03-10", "2026-03-10", {"kind"});
  REQUIRE(by_kind.size() == 3);
  CHECK(by_kind[0].group.at("kind") == "correction");
  CHECK(by_kind[0].items == 0);
  CHECK(by_kind[1].group.at("kind") == "publication");
  CHECK(by_kind[1].items == 1);
  CHECK(by_kind[2].retracted == 1);
  CHECK(f.reconcile("2026-03-10", "2026-03-10").ok);
}

TEST_CASE("a drill never counts, not even when it fails", "[queue][stats]") {
  Fixture f;
  Spec drill{"alert", "overseas_safety", "caution", true};
  f.publish(item_id('5'), {"weibo", "webhook"}, drill);
  f.enqueue(item_id('6'), "portal", drill);
  f.finish("portal", OutcomeKind::dead);
  const StatsRow t = f.total("2026-01-01", "2026-12-31");
  CHECK(t.items == 0);
  CHECK(t.deliveries == 0);
  CHECK(t.failed == 0);
  auto rec = f.queue.get(f.conn, delivery_id_for(item_id('5'), "weibo"));
  REQUIRE(rec);
  REQUIRE(rec->has_value());
  CHECK((*rec)->state ==
        DeliveryState::published);  // published all the same: only counting skips it
  CHECK(f.reconcile("2026-01-01", "2026-12-31").ok);
}

TEST_CASE("a dead letter counts as failed once, on the day it died", "[queue][stats]") {
  Fixture f;
  const std::string item = item_id('7');
  f.enqueue(item, "weibo", {"alert", "overseas_safety", "reconsider", false});
  f.finish("weibo", OutcomeKind::dead);
  CHECK(f.total("2026-03-10", "2026-03-10").failed == 1);

  SECTION("a replay that dies again does not count again; one that succeeds counts a delivery") {
    const std::string id = delivery_id_for(item, "weibo");
    REQUIRE(f.queue.replay(f.conn, id, "admin"));
    f.clock.advance(24h);
    f.finish("weibo", OutcomeKind::dead);
    REQUIRE(f.queue.replay(f.conn, id, "admin"));
    f.finish("weibo", OutcomeKind::published);
    f.settle();
    const auto days = f.query("2026-03-10", "2026-03-11", {"day", "level"});
    REQUIRE(days.size() == 2);
    CHECK(days[0].failed == 1);
    CHECK(days[0].group.at("level") == "reconsider");
    CHECK(days[1].failed == 0);
    CHECK(days[1].deliveries == 1);
    CHECK(days[1].items == 1);
    CHECK(f.reconcile("2026-03-01", "2026-03-31").ok);
  }
  SECTION("a lease that expires on the look-only attempt buries the delivery and counts it") {
    f.enqueue(item_id('8'), "portal", {});
    // Two attempts, then the two look-only ones that lost leases on the last attempt earn.
    for (int attempt = 0; attempt < 4; ++attempt) {
      (void)f.claim("portal");  // the worker dies: never completed
      f.clock.advance(11s);
    }
    auto c = f.queue.claim(f.conn, "portal", ClaimRequest{"w", 1, 1});  // reclaims and buries
    REQUIRE(c);
    CHECK(c->deliveries.empty());
    const auto rows = f.query("2026-03-10", "2026-03-10", {"channel"});
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].group.at("channel") == "portal");
    CHECK(rows[0].failed == 1);
    CHECK(f.reconcile("2026-03-10", "2026-03-10").ok);
  }
}

TEST_CASE("reconcile settles pending item counts and reports every counter that drifted",
          "[queue][stats]") {
  Fixture f;
  f.enqueue(item_id('9'), "weibo", {});
  f.enqueue(item_id('9'), "wechat", {});
  f.finish("weibo", OutcomeKind::published);
  f.finish("wechat", OutcomeKind::published);  // acked, item count not settled (a crash)
  CHECK(f.total("2026-03-10", "2026-03-10").items == 0);
  ReconcileReport r = f.reconcile("2026-03-10", "2026-03-10");
  CHECK(r.ok);
  CHECK(r.settled == 2);
  CHECK(r.ledger_entries == 2);
  CHECK(f.total("2026-03-10", "2026-03-10").items == 1);

  REQUIRE(f.conn.command(
      {"HINCRBY", f.prefix + "{wechat}:tally:2026", "2026-03-10|work_news|publication", "2"}));
  REQUIRE(f.conn.command(
      {"HINCRBY", f.prefix + "{items}:stats:2026", "2026-03-11|finance|publication", "1"}));
  r = f.reconcile("2026-03-01", "2026-03-31");
  CHECK_FALSE(r.ok);
  REQUIRE(r.differences.size() == 2);
  CHECK(r.differences[0].counter == "items");
  CHECK(r.differences[0].field == "2026-03-11|finance|publication");
  CHECK(r.differences[0].counted == 1);
  CHECK(r.differences[0].ledger == 0);
  CHECK(r.differences[1].counter == "deliveries");
  CHECK(r.differences[1].channel == "wechat");
  CHECK(r.differences[1].counted == 3);
  CHECK(r.differences[1].ledger == 1);
  SECTION("a period that leaves out the drifted days is still ok") {
    CHECK(f.reconcile("2026-04-01", "2026-04-30").ok);
  }
}

namespace {

// Rows of a query of the year 2026 read from the month rollups (whole months) and the same from
// the day hashes (a period starting on 31 Dec 2025, which has no counts): they must agree.
void check_rollups_agree_with_days(Fixture& f, const std::vector<std::string>& group_by) {
  const auto from_months = f.query("2026-01-01", "2026-12-31", group_by);
  const auto from_days = f.query("2025-12-31", "2026-12-31", group_by);
  REQUIRE(from_months.size() == from_days.size());
  for (std::size_t i = 0; i < from_days.size(); ++i) {
    INFO("row " << i);
    CHECK(from_months[i].group == from_days[i].group);
    CHECK(from_months[i].items == from_days[i].items);
    CHECK(from_months[i].deliveries == from_days[i].deliveries);
    CHECK(from_months[i].failed == from_days[i].failed);
    CHECK(from_months[i].retracted == from_days[i].retracted);
    CHECK(from_months[i].corrected == from_days[i].corrected);
  }
}

long long hash_field(Fixture& f, const std::string& key, const std::string& field) {
  auto v = f.conn.command({"HGET", f.prefix + key, field});
  REQUIRE(v);
  return v->str.empty() ? 0 : std::stoll(v->str);
}

}  // namespace

TEST_CASE("whole months are read from month rollups that always agree with the days",
          "[queue][stats]") {
  Fixture f;
  // The last second of January and the first of February, at +08:00.
  f.clock.set(time_at("2026-01-31T23:59:59+08:00"));
  f.publish(item_id('a'), {"weibo", "portal"});
  f.clock.set(time_at("2026-02-01T00:00:00+08:00"));
  f.publish(item_id('b'), {"weibo"}, {"alert", "overseas_safety", "avoid", false});
  // An item first delivered in January whose count settles after its February delivery's.
  f.clock.set(time_at("2026-01-31T12:00:00+08:00"));
  f.enqueue(item_id('c'), "weibo", {"publication", "finance", "", false});
  f.enqueue(item_id('c'), "portal", {"publication", "finance", "", false});
  f.finish("weibo", OutcomeKind::published);
  f.clock.set(time_at("2026-02-02T09:00:00+08:00"));
  f.finish("portal", OutcomeKind::published);
  REQUIRE(f.stats.settle_first_publications(f.conn, "portal", 0ms));
  CHECK(hash_field(f, "{items}:stats:2026:months", "2026-02|finance|publication") == 1);
  REQUIRE(f.stats.settle_first_publications(f.conn, "weibo", 0ms));  // moves it to January
  CHECK(hash_field(f, "{items}:stats:2026:months", "2026-02|finance|publication") == 0);
  CHECK(hash_field(f, "{items}:stats:2026:months", "2026-01|finance|publication") == 1);
  // A dead letter, a retraction and a correction in March.
  f.clock.set(time_at("2026-03-05T10:00:00+08:00"));
  f.enqueue(item_id('d'), "wechat", {});
  f.finish("wechat", OutcomeKind::dead);
  f.enqueue(item_id('a'), "weibo", {"retraction", "work_news", "", false},
            item_id('a') + "-recall");
  f.finish("weibo", OutcomeKind::published);
  f.publish(item_id('e'), {"portal"}, {"correction", "work_news", "", false});

  check_rollups_agree_with_days(f, {});
  check_rollups_agree_with_days(f, {"month"});
  check_rollups_agree_with_days(f, {"channel", "category", "kind", "level", "month"});
  const StatsRow year = f.total("2026-01-01", "2026-12-31");
  CHECK(year.items == 3);
  CHECK(year.deliveries == 5);
  CHECK(year.failed == 1);
  CHECK(year.retracted == 1);
  CHECK(year.corrected == 1);
  const auto months = f.query("2026-01-01", "2026-03-31", {"month"});
  REQUIRE(months.size() == 3);
  CHECK(months[0].items == 2);  // a, and c counted at its first delivery
  CHECK(months[1].items == 1);  // b at 00:00:00 on 1 February
  CHECK(months[2].failed == 1);
  CHECK(f.reconcile("2026-01-01", "2026-12-31").ok);

  SECTION("a year's query reads the rollups, and reconcile names a rollup that drifted") {
    REQUIRE(f.conn.command({"HINCRBY", f.prefix + "{portal}:tally:2026:months",
                            "2026-01|work_news|publication", "5"}));
    CHECK(f.total("2026-01-01", "2026-12-31").deliveries == 10);
    CHECK(f.total("2025-12-31", "2026-12-31").deliveries == 5);  // days: not a whole month
    const ReconcileReport r = f.reconcile("2026-01-01", "2026-12-31");
    CHECK_FALSE(r.ok);
    REQUIRE(r.differences.size() == 1);
    CHECK(r.differences[0].counter == "deliveries");
    CHECK(r.differences[0].channel == "portal");
    CHECK(r.differences[0].field == "2026-01|work_news|publication");
    CHECK(r.differences[0].counted == 6);
    CHECK(r.differences[0].ledger == 1);
    // A period of part of January compares only the days.
    CHECK(f.reconcile("2026-01-02", "2026-12-31").ok);
  }
  SECTION("counters from before the rollups get them once, rebuilt from their days") {
    auto keys = f.conn.command({"KEYS", f.prefix + "*:months"});
    REQUIRE(keys);
    std::set<std::string> names;
    for (const auto& k : keys->elements) names.insert(k.str.substr(f.prefix.size()));
    CHECK(names == std::set<std::string>{"{items}:stats:2026:months", "{portal}:tally:2026:months",
                                         "{wechat}:failed:2026:months",
                                         "{weibo}:tally:2026:months"});
    for (const auto& k : keys->elements) REQUIRE(f.conn.command({"DEL", k.str}));
    CHECK(f.total("2026-01-01", "2026-12-31").items == 0);
    CHECK_FALSE(f.reconcile("2026-01-01", "2026-12-31").ok);

    auto built = f.stats.build_month_rollups(f.conn);
    REQUIRE(built);
    CHECK(*built == 4);  // one per day hash
    check_rollups_agree_with_days(f, {"channel", "category", "kind", "level", "month"});
    CHECK(f.total("2026-01-01", "2026-12-31").items == 3);
    CHECK(f.reconcile("2026-01-01", "2026-12-31").ok);

    // Once built, never again: later counters keep their rollups up to date themselves.
    REQUIRE(f.conn.command({"DEL", f.prefix + "{items}:stats:2026:months"}));
    built = f.stats.build_month_rollups(f.conn);
    REQUIRE(built);
    CHECK(*built == 0);
  }
}

TEST_CASE("imported records count as if published then, and a second import adds nothing",
          "[queue][stats]") {
  Fixture f;
  ImportRecord a;
  a.row = 1;
  a.published_at = time_at("2013-12-31T23:59:59+08:00");
  a.category = "work_news";
  a.kind = "publication";
  a.channels = {"portal", "weibo"};
  a.title = "工作动态";
  a.remote_ids = {{"weibo", "3600000000000001"}};
  ImportRecord b = a;
  b.row = 2;
  b.kind = "alert";
  b.category = "overseas_safety";
  b.level = "caution";
  b.channels = {"portal"};
  b.published_at = time_at("2014-01-01T00:00:00+08:00");

  auto dry = f.stats.import_records(f.conn, {a, b}, "compiler", true);
  REQUIRE(dry);
  CHECK(dry->new_items == 2);
  CHECK(dry->deliveries == 3);
  CHECK(f.total("2013-01-01", "2014-12-31").items == 0);  // a dry run writes nothing

  auto real = f.stats.import_records(f.conn, {a, b}, "compiler", false);
  REQUIRE(real);
  CHECK(real->new_items == 2);
  const StatsRow y2013 = f.total("2013-01-01", "2013-12-31");
  CHECK(y2013.items == 1);
  CHECK(y2013.deliveries == 2);
  CHECK(f.total("2014-01-01", "2014-12-31").items == 1);
  CHECK(f.reconcile("2013-01-01", "2014-12-31").ok);

  auto again = f.stats.import_records(f.conn, {a, b}, "compiler", false);
  REQUIRE(again);
  CHECK(again->new_items == 0);
  CHECK(again->already_imported == 2);
  CHECK(again->item_ids == real->item_ids);
  CHECK(f.total("2013-01-01", "2014-12-31").items == 2);
  CHECK(f.total("2013-01-01", "2014-12-31").deliveries == 3);
  auto ledger = f.queue.get(f.conn, delivery_id_for(real->item_ids[0], "weibo"));
  REQUIRE(ledger);
  REQUIRE(ledger->has_value());
  CHECK((*ledger)->state == DeliveryState::published);
  CHECK((*ledger)->remote_id == "3600000000000001");
}

TEST_CASE("a stats query refuses bad parameters, naming the parameter", "[queue][stats]") {
  auto field_of = [](StatsQuery q) {
    auto v = StatsStore::validate(q);
    REQUIRE_FALSE(v);
    return v.error().field;
  };
  CHECK(field_of({"2026-13-01", "2026-12-31", {}}) == "from");
  CHECK(field_of({"2026-01-01", "2026-02-30", {}}) == "to");
  CHECK(field_of({"2026-02-01", "2026-01-31", {}}) == "to");
  CHECK(field_of({"2026-01-01", "2026-12-31", {"country"}}) == "group_by");
  CHECK(field_of({"2026-01-01", "2026-12-31", {"day", "day"}}) == "group_by");
  CHECK(StatsStore::validate({"2024-02-29", "2024-02-29", {"channel", "month"}}));
}

TEST_CASE("a query with no counters answers one row of zeros, or no rows when grouped",
          "[queue][stats]") {
  Fixture f;
  const StatsRow t = f.total("2020-01-01", "2020-12-31");
  CHECK(t.items == 0);
  CHECK(t.deliveries == 0);
  CHECK(f.query("2020-01-01", "2020-12-31", {"channel"}).empty());
}

}  // namespace herald
