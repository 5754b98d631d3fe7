// Reconciliation against the platforms (GET /v1/stats/reconcile?against=platforms): the
// comparison on its own, then a real heraldd, redis-server and herald-sim where Weibo and
// Herald are made to disagree in each of the four ways (a post made by hand, a post deleted by
// hand, a retracted item whose post stayed up, a dead letter Weibo had in fact published) and a
// repair settles the dead letter; the annual report names the last clean reconciliation.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/delivery.h"
#include "core/digest.h"
#include "queue/delivery_queue.h"
#include "services/heraldd/platform_reconciler.h"
#include "tests/support/herald_processes.h"
#include "tests/support/redis_server.h"
#include "tests/support/test_time.h"

using namespace herald;
using namespace herald::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kCompilerToken = "compiler-token";
constexpr const char* kWeiboToken = "weibo-sim-token";  // herald-sim's default
constexpr auto kWait = std::chrono::seconds(60);
constexpr auto kPoll = std::chrono::milliseconds(50);

LedgerEntry entry(const std::string& id, const std::string& state, const std::string& remote_id,
                  const char* at, const std::string& item_state = "queued") {
  LedgerEntry e;
  e.delivery_id = id + ".weibo";
  e.item_id = id;
  e.state = *delivery_state_from_string(state);
  e.kind = herald::DeliveryKind::publication;
  e.remote_id = remote_id;
  if (state == "published") e.published_at = time_at(at);
  if (state == "dead") e.dead_at = e.failed_at = time_at(at);
  e.item_state = item_state;
  return e;
}

std::string marker_of(const std::string& delivery_id) {
  Delivery d;
  d.id = delivery_id;
  return d.marker();
}

std::vector<std::string> ids(const std::vector<PlatformDifference>& list) {
  std::vector<std::string> out;
  for (const auto& d : list) out.push_back(d.delivery_id.empty() ? d.remote_id : d.delivery_id);
  return out;
}

}  // namespace

TEST_CASE("compare_with_platform sorts every disagreement into its list", "[reconcile]") {
  const TimePoint from = time_at("2026-11-01T00:00:00+08:00");
  const TimePoint to = time_at("2026-11-30T23:59:59+08:00");
  const std::vector<LedgerEntry> entries = {
      entry("ok", "published", "100", "2026-11-05T10:00:00+08:00"),
      entry("gone", "published", "101", "2026-11-06T10:00:00+08:00"),
      entry("dead", "dead", "", "2026-11-07T10:00:00+08:00"),
      entry("retracted", "published", "103", "2026-11-08T10:00:00+08:00", "retracted"),
      entry("quiet", "published", "104", "2026-11-09T10:00:00+08:00", "retracted"),
      entry("old", "published", "105", "2026-10-09T10:00:00+08:00"),
      entry("twice", "published", "106", "2026-11-10T10:00:00+08:00"),
      entry("slow", "published", "unconfirmed:20032", "2026-11-11T10:00:00+08:00"),
  };
  PlatformListing listing;
  auto at = [](const char* t) { return std::optional<TimePoint>(time_at(t)); };
  listing.records = {
      {"100", marker_of("ok.weibo"), at("2026-11-05T10:00:00+08:00"), false},
      {"102", marker_of("dead.weibo"), at("2026-11-07T09:59:59+08:00"), false},
      {"103", marker_of("retracted.weibo"), at("2026-11-08T10:00:00+08:00"), false},
      {"105", marker_of("old.weibo"), at("2026-10-09T10:00:00+08:00"), false},
      {"106", marker_of("twice.weibo"), at("2026-11-10T10:00:00+08:00"), false},
      {"107", marker_of("twice.weibo"), at("2026-11-10T10:05:00+08:00"), false},
      {"108", "", at("2026-11-12T10:00:00+08:00"), false},
      {"109", "", at("2026-10-12T10:00:00+08:00"), false},  // before the period
      {"110", marker_of("slow.weibo"), at("2026-11-11T10:00:01+08:00"), false},
      {"100", marker_of("ok.weibo"), at("2026-11-05T10:00:00+08:00"), false},  // listed twice
  };
  const ChannelReconciliation r = compare_with_platform("weibo", entries, listing, from, to);
  CHECK(ids(r.unknown_to_herald) == std::vector<std::string>{"twice.weibo", "108"});
  CHECK(r.unknown_to_herald[0].remote_id == "107");
  CHECK(ids(r.missing_on_platform) == std::vector<std::string>{"gone.weibo"});
  REQUIRE(ids(r.dead_but_live) == std::vector<std::string>{"dead.weibo"});
  CHECK(r.dead_but_live[0].remote_id == "102");
  CHECK(*r.dead_but_live[0].platform_at == time_at("2026-11-07T09:59:59+08:00"));
  CHECK(ids(r.live_but_retracted) == std::vector<std::string>{"retracted.weibo"});
  CHECK(r.platform_records == 7);
  CHECK(r.herald_deliveries == 4);  // ok, gone, twice, slow: retracted items are not expected
  CHECK_FALSE(r.clean());

  SECTION("a withdrawn record is not live, and says so") {
    PlatformListing withdrawn;
    withdrawn.records = {{"101", "", at("2026-11-06T10:00:00+08:00"), true}};
    const auto w = compare_with_platform("weibo", {entries[1]}, withdrawn, from, to);
    REQUIRE(w.missing_on_platform.size() == 1);
    CHECK(w.missing_on_platform[0].note == "withdrawn on the platform");
    CHECK(w.unknown_to_herald.empty());
  }
  SECTION("nothing before complete_from, nor an unverifiable one, is called missing") {
    PlatformListing partial;
    partial.complete_from = time_at("2026-11-07T00:00:00+08:00");
    const auto p = compare_with_platform("weibo", {entries[1]}, partial, from, to);
    CHECK(p.missing_on_platform.empty());
    PlatformListing unsure;
    unsure.unverifiable = {"gone.weibo"};
    CHECK(compare_with_platform("weibo", {entries[1]}, unsure, from, to).clean());
  }
  SECTION("a recall names the publication's id but does not stand for it") {
    LedgerEntry recall = entry("gone-recall", "published", "101", "2026-11-06T11:00:00+08:00");
    recall.kind = herald::DeliveryKind::retraction;
    const auto g = compare_with_platform("weibo", {recall}, PlatformListing{}, from, to);
    CHECK(g.clean());
    CHECK(g.herald_deliveries == 0);
  }
  SECTION("period_bounds covers whole days in the office's time zone") {
    const auto bounds = period_bounds("2026-11-01", "2026-11-30", 480);
    REQUIRE(bounds);
    CHECK(bounds->first == from);
    CHECK(bounds->second == time_at("2026-12-01T00:00:00+08:00") - 1ms);
    CHECK_FALSE(period_bounds("2026-11-30", "2026-11-01", 480));
    CHECK_FALSE(period_bounds("2026-11-31", "2026-12-01", 480));
  }
}

namespace {

struct Fixture {
  std::string prefix = unique_key_prefix("platforms");
  std::string dir = make_temp_dir("platforms");
  SimHandle sim = start_sim();
  HeralddHandle daemon;

  Fixture() {
    json config = test_config(prefix, sim.url);
    config["auth"]["users"].push_back({{"name", "compiler"},
                                       {"roles", {"compiler"}},
                                       {"token_sha256", sha256_hex(kCompilerToken)}});
    // Two attempts, each given up after 300 ms, and read-backs that fail waited out for 1 s at
    // most: a late platform dead-letters a delivery fast (deferred_too_long).
    config["queue"]["max_attempts"] = 2;
    config["channels"]["weibo"] = {{"api_base", sim.url},
                                   {"access_token", kWeiboToken},
                                   {"safe_domain", "www.scfao.gov.cn"},
                                   {"rip", "127.0.0.1"},
                                   {"timeout_ms", 300},
                                   {"defer", {{"processing_max_ms", 1000}}}};
    daemon = start_heraldd(config, dir);
  }

  std::string publish(const std::string& title) {
    const json item = {
        {"kind", "publication"},
        {"category", "work_news"},
        {"title", title},
        {"body", "正文：" + title},
        {"link", "https://www.scfao.gov.cn/notices/" + sha256_hex(title).substr(0, 8)},
        {"channels", {"weibo"}}};
    auto r = http("POST", daemon.url + "/v1/items", kDutyToken, item.dump(),
                  {{"Content-Type", "application/json"}});
    INFO(r.body);
    REQUIRE(r.status == 201);
    const std::string id = json_of(r).at("id");
    approve_twice(daemon.url, id);
    return id;
  }
  json item(const std::string& id) {
    return json_of(http("GET", daemon.url + "/v1/items/" + id, kAdminToken));
  }
  // Waits until the item's only entry of `list` is in `state`; returns that entry.
  json wait_for(const std::string& id, const std::string& list, const std::string& state) {
    json it;
    const bool reached = wait_until(
        [&] {
          it = item(id);
          return it[list].size() == 1 && it[list][0]["state"] == state;
        },
        kWait, kPoll);
    INFO(it.dump(2) << "\nheraldd log: " << read_file(daemon.log_path));
    REQUIRE(reached);
    return it[list][0];
  }
  // A publication count of the period (the dead recall is counted failed as a retraction).
  long long publications(const std::string& metric) {
    const json stats = json_of(
        http("GET", daemon.url + "/v1/stats?" + period() + "&group_by=kind", kCompilerToken));
    for (const auto& row : stats.at("rows")) {
      if (row.at("kind") == "publication") return row.at(metric).get<long long>();
    }
    return 0;
  }
  json reconcile(const std::string& extra = "") {
    auto r = http("GET", daemon.url + "/v1/stats/reconcile?against=platforms&" + period() + extra,
                  kCompilerToken);
    INFO(r.body);
    REQUIRE(r.status == 200);
    return json_of(r);
  }
  json channel(const json& answer, const std::string& name) {
    for (const auto& c : answer.at("channels")) {
      if (c.at("channel") == name) return c;
    }
    FAIL("no channel " << name << " in " << answer.dump());
    return {};
  }
  void sim_post(const std::string& path, const std::string& body, const std::string& type) {
    auto r = http("POST", sim.url + path, "", body, {{"Content-Type", type}});
    INFO(r.body);
    REQUIRE(r.status == 200);
  }
  static std::string period() {
    const auto now = std::chrono::system_clock::now();
    return "from=" + tally_day(now - 24h, 480) + "&to=" + tally_day(now + 24h, 480);
  }
};

std::vector<std::string> delivery_ids(const json& list) {
  std::vector<std::string> out;
  for (const auto& d : list) out.push_back(d.at("delivery_id").is_null() ? "" : d["delivery_id"]);
  return out;
}

}  // namespace

TEST_CASE(
    "reconciliation against Weibo finds each disagreement, and a repair settles a dead "
    "letter Weibo published",
    "[heraldd][stats][reconcile]") {
  Fixture f;
  const std::string kept = f.publish("保持不变的通知");
  const std::string deleted = f.publish("被人工删除的通知");
  const std::string retracted = f.publish("撤回未成功的通知");
  for (const auto& id : {kept, deleted, retracted}) f.wait_for(id, "deliveries", "published");
  const std::string today = tally_day(std::chrono::system_clock::now(), 480);

  // Agreement first: the webhook cannot be listed and does not spoil it; the day is recorded.
  json clean = f.reconcile();
  CHECK(clean.at("ok") == true);
  CHECK(clean.at("against") == "platforms");
  const json weibo = f.channel(clean, "weibo");
  CHECK(weibo.at("ok") == true);
  CHECK(weibo.at("platform_records") == 3);
  CHECK(weibo.at("herald_deliveries") == 3);
  const json webhook = f.channel(clean, "webhook");
  CHECK(webhook.at("supported") == false);
  CHECK(webhook.at("error").at("code") == "list_unsupported");
  REQUIRE(clean.at("last_clean").is_object());
  CHECK(clean["last_clean"].at("on") == today);
  {
    auto report =
        http("GET", f.daemon.url + "/v1/reports/annual?year=" + today.substr(0, 4), kCompilerToken);
    REQUIRE(report.status == 200);
    const json r = json_of(report);
    CHECK(r.at("platforms_reconciled_on") == today);
    CHECK(r.at("counting_rules").back().get<std::string>().find(today) != std::string::npos);
  }

  // (a) a post made on Weibo by hand.
  f.sim_post("/2/statuses/share.json",
             std::string("access_token=") + kWeiboToken +
                 "&rip=127.0.0.1&status=%E6%89%8B%E5%B7%A5%E5%8F%91%E5%B8%83+https%3A%2F%2Fwww."
                 "scfao.gov.cn%2Fhand",
             "application/x-www-form-urlencoded");
  // (b) a post deleted on Weibo by hand.
  const std::string deleted_remote = f.item(deleted)["deliveries"][0]["remote_id"];
  f.sim_post("/2/statuses/destroy.json",
             std::string("access_token=") + kWeiboToken + "&id=" + deleted_remote,
             "application/x-www-form-urlencoded");
  // (d) a retraction whose withdrawal Weibo refused (an expired token: a dead recall).
  f.sim_post("/_sim/config", json{{"weibo_next_errors", {21327}}}.dump(), "application/json");
  auto r = http("POST", f.daemon.url + "/v1/items/" + retracted + "/retract", kDutyToken,
                json{{"reason", "内容有误"}}.dump(), {{"Content-Type", "application/json"}});
  REQUIRE(r.status == 202);
  f.wait_for(retracted, "recalls", "dead");
  // (c) Weibo posts, but every answer (and every read-back) comes after Herald gave up.
  f.sim_post("/_sim/faults", json{{"spec", "weibo:late=1,stall_ms=1000"}}.dump(),
             "application/json");
  const std::string dead = f.publish("平台已发但记为失败的通知");
  f.wait_for(dead, "deliveries", "dead");
  f.sim_post("/_sim/faults", json{{"spec", ""}}.dump(), "application/json");
  const std::string dead_delivery = delivery_id_for(dead, "weibo");
  CHECK(f.publications("failed") == 1);
  CHECK(f.publications("deliveries") == 3);

  const json found = f.reconcile();
  CHECK(found.at("ok") == false);
  CHECK(found.at("repair") == false);
  const json w = f.channel(found, "weibo");
  INFO(w.dump(2));
  CHECK(w.at("ok") == false);
  REQUIRE(w.at("unknown_to_herald").size() == 1);
  CHECK(w["unknown_to_herald"][0].at("delivery_id").is_null());
  CHECK(w["unknown_to_herald"][0].at("marker").is_null());
  CHECK(delivery_ids(w.at("missing_on_platform")) ==
        std::vector<std::string>{delivery_id_for(deleted, "weibo")});
  CHECK(w["missing_on_platform"][0].at("herald_remote_id") == deleted_remote);
  CHECK(delivery_ids(w.at("live_but_retracted")) ==
        std::vector<std::string>{delivery_id_for(retracted, "weibo")});
  REQUIRE(delivery_ids(w.at("dead_but_live")) == std::vector<std::string>{dead_delivery});
  const std::string dead_remote = w["dead_but_live"][0].at("remote_id");
  CHECK_FALSE(dead_remote.empty());
  CHECK(w["dead_but_live"][0].at("marker") == [&] {
    Delivery d;
    d.id = dead_delivery;
    return d.marker();
  }());
  CHECK(found["last_clean"].at("on") == today);  // still the earlier, clean one

  SECTION("repair=true settles the dead letter: published, counted, audited") {
    const json repaired = f.reconcile("&repair=true");
    CHECK(repaired.at("repair") == true);
    CHECK(repaired.at("repaired") == 1);
    const json rw = f.channel(repaired, "weibo");
    REQUIRE(rw.at("dead_but_live").size() == 1);
    CHECK(rw["dead_but_live"][0].at("repaired") == true);

    const json d = f.item(dead)["deliveries"][0];
    CHECK(d.at("state") == "published");
    CHECK(d.at("remote_id") == dead_remote);
    const json audit =
        json_of(http("GET", f.daemon.url + "/v1/items/" + dead + "/audit", kAdminToken));
    bool reconciled = false;
    for (const auto& e : audit.at("events")) {
      if (e.at("event") == "reconciled") {
        reconciled = true;
        CHECK(e.at("who") == "compiler");
        CHECK(e.at("remote_id") == dead_remote);
        CHECK(e.at("delivery") == dead_delivery);
      }
    }
    CHECK(reconciled);
    // The counts move as if it had been acked: one more delivery and item, one fewer failure.
    CHECK(f.publications("failed") == 0);
    CHECK(f.publications("deliveries") == 4);
    CHECK(f.publications("items") == 4);
    const json ledger = json_of(
        http("GET", f.daemon.url + "/v1/stats/reconcile?" + Fixture::period(), kCompilerToken));
    CHECK(ledger.at("ok") == true);

    // The other three are not the platform's to settle: they stay.
    const json again = f.reconcile();
    const json aw = f.channel(again, "weibo");
    CHECK(aw.at("dead_but_live").empty());
    CHECK(aw.at("unknown_to_herald").size() == 1);
    CHECK(aw.at("missing_on_platform").size() == 1);
    CHECK(aw.at("live_but_retracted").size() == 1);
    CHECK(again.at("ok") == false);
  }
  SECTION("heraldctl reconcile --platforms prints the lists") {
    const std::string out_path = f.dir + "/heraldctl.out";
    const auto now = std::chrono::system_clock::now();
    auto ctl = ChildProcess::spawn(
        {HERALDCTL_PATH, "--server", f.daemon.url, "--token", kCompilerToken, "reconcile", "--from",
         tally_day(now - 24h, 480), "--to", tally_day(now + 24h, 480), "--platforms"},
        {}, out_path);
    const auto code = ctl.wait(30s);
    const std::string out = read_file(out_path);
    INFO(out);
    REQUIRE(code);
    CHECK(*code == 0);
    CHECK(out.find("the platforms and Herald differ") != std::string::npos);
    CHECK(out.find("dead but live") != std::string::npos);
    CHECK(out.find(dead_delivery) != std::string::npos);
    CHECK(out.find("last clean reconciliation: " + today) != std::string::npos);
  }
  SECTION("parameters are checked, and the ledger answer is unchanged") {
    auto get = [&](const std::string& q) {
      return http("GET", f.daemon.url + "/v1/stats/reconcile?" + q, kCompilerToken);
    };
    CHECK(get(Fixture::period() + "&against=nothing").status == 400);
    CHECK(get(Fixture::period() + "&repair=true").status == 400);  // repair is for platforms
    CHECK(get(Fixture::period() + "&against=platforms&repair=maybe").status == 400);
    CHECK(get(Fixture::period() + "&against=platforms&channel=fax").status == 400);
    CHECK(get("against=platforms&to=2026-12-31").status == 400);
    CHECK(http("GET", f.daemon.url + "/v1/stats/reconcile?against=platforms&" + Fixture::period(),
               kDutyToken)
              .status == 403);
    const json ledger = json_of(get(Fixture::period() + "&against=ledger"));
    std::vector<std::string> keys;
    for (const auto& [k, v] : ledger.items()) keys.push_back(k);
    CHECK(keys ==
          std::vector<std::string>{"differences", "from", "ledger_entries", "ok", "settled", "to"});
    // One channel only: its answer, and no claim about the platforms as a whole.
    const json only = f.reconcile("&channel=weibo");
    CHECK(only.at("channels").size() == 1);
  }
}
