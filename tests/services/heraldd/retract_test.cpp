// Recall as a client sees it (issue 4 item 5): a real heraldd, redis-server and herald-sim. An
// approved alert reaches Weibo, the portal and the webhook; a retraction withdraws it on each
// (Weibo destroy, portal withdraw, a signed retraction event to the webhook), the item and its
// audit trail show it; a scheduled item retracted in time never goes out; a correction is a new
// item that needs the same two approvals and then goes out as a new post.
#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <string>

#include "core/clock.h"
#include "tests/support/herald_processes.h"
#include "tests/support/redis_server.h"

using namespace herald;
using namespace herald::test;
using nlohmann::json;

namespace {

constexpr auto kWait = std::chrono::seconds(45);
constexpr auto kPoll = std::chrono::milliseconds(50);
const char* kPortalKey = "retract-portal-key";

std::vector<std::pair<std::string, std::string>> json_headers() {
  return {{"Content-Type", "application/json"}};
}

struct Fixture {
  SimHandle sim = start_sim({"--portal-key", kPortalKey});
  std::string dir = make_temp_dir("retract");
  HeralddHandle daemon;

  Fixture() {
    json config = test_config(unique_key_prefix("retract"), sim.url);
    config["channels"]["weibo"] = {{"api_base", sim.url},
                                   {"access_token", "weibo-sim-token"},
                                   {"safe_domain", "www.scfao.gov.cn"},
                                   {"rip", "127.0.0.1"}};
    config["channels"]["portal"] = {{"url", sim.url},
                                    {"hmac_key", kPortalKey},
                                    {"app_id", "herald-test"},
                                    {"org_code", "11510000MB0000000X"},
                                    {"column", "zwdt"}};
    daemon = start_heraldd(config, dir);
  }

  HttpResponse post(const std::string& path, const json& body, const char* token = kDutyToken) {
    return http("POST", daemon.url + path, token, body.dump(), json_headers());
  }
  std::string submit(const json& item) {
    auto r = post("/v1/items", item);
    INFO(r.body);
    REQUIRE(r.status == 201);
    return json_of(r).at("id");
  }
  json get(const std::string& id) {
    return json_of(http("GET", daemon.url + "/v1/items/" + id, kAdminToken));
  }
  // Waits until every entry of the item's `list` ("deliveries" or "recalls") has `state`.
  json wait_for(const std::string& id, const std::string& list, std::size_t count,
                const std::string& state) {
    json item;
    const bool reached = wait_until(
        [&] {
          item = get(id);
          if (item[list].size() != count) return false;
          for (const auto& d : item[list]) {
            if (d["state"] != state) return false;
          }
          return true;
        },
        kWait, kPoll);
    INFO(item.dump(2) << "\nheraldd log: " << read_file(daemon.log_path));
    REQUIRE(reached);
    return item;
  }
  // The published alert on all three channels.
  std::string published_alert() {
    json alert = sample_alert();
    alert["channels"] = {"weibo", "portal", "webhook"};
    const std::string id = submit(alert);
    approve_twice(daemon.url, id);
    wait_for(id, "deliveries", 3, "published");
    return id;
  }
};

void expect_error(const HttpResponse& r, long status, const std::string& code) {
  INFO(r.body);
  CHECK(r.status == status);
  CHECK(json_of(r).at("error").at("code") == code);
}

std::map<std::string, std::string> remote_ids(const json& item, const std::string& list) {
  std::map<std::string, std::string> out;
  for (const auto& d : item[list]) out[d["channel"]] = d["remote_id"];
  return out;
}

}  // namespace

TEST_CASE("a retraction withdraws a published alert from Weibo, the portal and the webhook",
          "[api][recall]") {
  Fixture f;
  const std::string id = f.published_alert();
  const auto published = remote_ids(f.get(id), "deliveries");

  auto r = f.post("/v1/items/" + id + "/retract", {{"reason", "情况已变化，撤回提醒"}});
  INFO(r.body);
  REQUIRE(r.status == 202);
  const json answer = json_of(r);
  CHECK(answer.at("state") == "retracted");
  CHECK(answer.at("already") == false);
  CHECK(answer.at("retracted_by") == "duty");
  REQUIRE(answer.at("channels").size() == 3);
  for (const auto& c : answer["channels"]) {
    CHECK(c.at("action") == "recall");
    CHECK(c.at("delivery").at("state") == "published");
    CHECK(c.at("recall").at("id") == id + "-recall." + c.at("channel").get<std::string>());
  }

  const json item = f.wait_for(id, "recalls", 3, "published");
  CHECK(item.at("state") == "retracted");
  // Each recall names what it withdrew.
  CHECK(remote_ids(item, "recalls") == published);

  // herald-sim saw each platform's withdrawal.
  const json weibo = sim_published(f.sim.url, "weibo");
  REQUIRE(weibo.at("items").size() == 1);
  CHECK(weibo["items"][0].at("id") == published.at("weibo"));
  CHECK(weibo["items"][0].at("deleted") == true);
  const json portal = sim_published(f.sim.url, "portal");
  REQUIRE(portal.at("items").size() == 1);
  CHECK(portal["items"][0].at("withdrawn") == true);
  const json webhook = sim_published(f.sim.url, "webhook");
  REQUIRE(webhook.at("items").size() == 2);  // the publication, then the retraction event
  CHECK(webhook["items"][0].at("retracted") == true);
  CHECK(webhook["items"][0].at("retraction_reason") == "情况已变化，撤回提醒");
  const json& event = webhook["items"][1].at("body");
  CHECK(event.at("event") == "retraction");
  CHECK(event.at("item_id") == id);
  CHECK(event.at("retracts").at("remote_id") == published.at("webhook"));
  CHECK(event.at("retracts").at("delivery_id") == id + ".webhook");

  SECTION("the audit trail shows who retracted it, why, and each recall") {
    const json audit =
        json_of(http("GET", f.daemon.url + "/v1/items/" + id + "/audit", kAdminToken));
    bool retracted = false;
    std::set<std::string> recalled;
    for (const auto& e : audit.at("events")) {
      if (e.at("event") == "retracted" && !e.contains("delivery")) {
        retracted = true;
        CHECK(e.at("who") == "duty");
        CHECK(e.at("reason") == "情况已变化，撤回提醒");
      }
      if (e.contains("delivery") &&
          e["delivery"] == id + "-recall." + e["channel"].get<std::string>() &&
          e.at("event") == "published") {
        recalled.insert(e["channel"].get<std::string>());
      }
    }
    INFO(audit.dump(2));
    CHECK(retracted);
    CHECK(recalled == std::set<std::string>{"weibo", "portal", "webhook"});
  }
  SECTION("retracting again answers the same and recalls nothing twice") {
    auto again = f.post("/v1/items/" + id + "/retract", {{"reason", "再次撤回"}});
    INFO(again.body);
    REQUIRE(again.status == 202);
    const json second = json_of(again);
    CHECK(second.at("state") == "retracted");
    CHECK(second.at("already") == true);
    CHECK(second.at("reason") == "情况已变化，撤回提醒");
    for (const auto& c : second["channels"]) CHECK(c.at("recall").at("state") == "published");
    // Kept in a variable: a range-for over a member of a temporary reads freed memory.
    const json item = f.get(id);
    for (const auto& d : item.at("recalls")) CHECK(d.at("attempts") == 1);
    CHECK(sim_published(f.sim.url, "webhook").at("items").size() == 2);
  }
  SECTION("a retracted alert cannot be corrected") {
    expect_error(f.post("/v1/items/" + id + "/corrections", {{"title", "更正"}}), 409,
                 "not_correctable");
  }
}

TEST_CASE("a scheduled item retracted before its time never publishes", "[api][recall]") {
  Fixture f;
  const std::string at = format_rfc3339(SystemClock().now() + std::chrono::seconds(6));
  json scheduled = sample_alert();
  scheduled["publish_at"] = at;
  const std::string id = f.submit(scheduled);
  // A witness due at the same moment on the same channel: once it is out, the retracted one
  // would have been out too.
  json witness_item = sample_alert();
  witness_item["publish_at"] = at;
  witness_item["title"] = "见证提醒";
  const std::string witness = f.submit(witness_item);
  approve_twice(f.daemon.url, id);
  approve_twice(f.daemon.url, witness);
  REQUIRE(f.get(id).at("state") == "scheduled");

  auto r = f.post("/v1/items/" + id + "/retract", {{"reason", "不再需要"}});
  INFO(r.body);
  REQUIRE(r.status == 202);
  const json answer = json_of(r);
  REQUIRE(answer.at("channels").size() == 1);
  CHECK(answer["channels"][0].at("action") == "cancelled");
  CHECK(answer["channels"][0].at("delivery").at("state") == "cancelled");
  CHECK_FALSE(answer["channels"][0].contains("recall"));

  f.wait_for(witness, "deliveries", 1, "published");
  const json item = f.get(id);
  CHECK(item.at("state") == "retracted");
  CHECK(item.at("deliveries").at(0).at("state") == "cancelled");
  CHECK(item.at("recalls").empty());
  const json webhook = sim_published(f.sim.url, "webhook");
  REQUIRE(webhook.at("items").size() == 1);
  CHECK(webhook["items"][0].at("body").at("item_id") == witness);
}

TEST_CASE("a correction is a new item that needs two approvals, then goes out as a new post",
          "[api][recall]") {
  Fixture f;
  const std::string id = f.published_alert();

  auto r = f.post("/v1/items/" + id + "/corrections",
                  {{"title", "更正：提醒中国公民近期谨慎前往泰国南部三府"},
                   {"channels", {"weibo", "webhook"}}});
  INFO(r.body);
  REQUIRE(r.status == 201);
  const json created = json_of(r);
  CHECK(created.at("state") == "pending_review");
  CHECK(created.at("corrects") == id);
  const std::string correction = created.at("id");
  CHECK(correction != id);

  json item = f.get(correction);
  CHECK(item.at("state") == "pending_review");
  CHECK(item.at("corrects") == id);
  CHECK(item.at("kind") == "alert");
  CHECK(item.at("alert") == f.get(id).at("alert"));  // carried over from the original
  CHECK(item.at("deliveries").empty());
  // The same two-level review: never its author, and one approval is not enough.
  expect_error(review(f.daemon.url, correction, kDutyToken), 409, "self_approval");
  REQUIRE(review(f.daemon.url, correction, kReviewerToken).status == 201);
  CHECK(f.get(correction).at("deliveries").empty());
  REQUIRE(review(f.daemon.url, correction, kReviewer2Token).status == 201);

  f.wait_for(correction, "deliveries", 2, "published");
  const json weibo = sim_published(f.sim.url, "weibo");
  REQUIRE(weibo.at("items").size() == 2);
  CHECK(weibo["items"][1].at("text").get<std::string>().find("泰国南部三府") != std::string::npos);
  CHECK(weibo["items"][0].at("deleted") == false);
  const json webhook = sim_published(f.sim.url, "webhook");
  REQUIRE(webhook.at("items").size() == 2);
  CHECK(webhook["items"][1].at("body").at("item").at("corrects") == id);
  CHECK(sim_published(f.sim.url, "portal").at("items").size() == 1);  // not among its channels
}

TEST_CASE("retractions and corrections that cannot be done are refused with a reason",
          "[api][recall]") {
  Fixture f;
  const std::string pending = f.submit(sample_alert());

  SECTION("retract: unknown item, no reason, wrong role, not JSON") {
    expect_error(f.post("/v1/items/0000000000000000000000000z/retract", {{"reason", "x"}}), 404,
                 "not_found");
    expect_error(f.post("/v1/items/" + pending + "/retract", json::object()), 422,
                 "validation_failed");
    expect_error(f.post("/v1/items/" + pending + "/retract", {{"reason", " "}}), 422,
                 "validation_failed");
    expect_error(f.post("/v1/items/" + pending + "/retract", {{"reason", "x"}}, kReviewerToken),
                 403, "forbidden");
    expect_error(http("POST", f.daemon.url + "/v1/items/" + pending + "/retract", kDutyToken,
                      "reason=x", {{"Content-Type", "text/plain"}}),
                 415, "unsupported_media_type");
    expect_error(http("GET", f.daemon.url + "/v1/items/" + pending + "/retract", kDutyToken), 405,
                 "method_not_allowed");
  }
  SECTION("an item under review is withdrawn: it can no longer be approved") {
    auto r = f.post("/v1/items/" + pending + "/retract", {{"reason", "草稿有误"}});
    INFO(r.body);
    REQUIRE(r.status == 202);
    CHECK(json_of(r).at("state") == "withdrawn");
    CHECK(json_of(r).at("channels").empty());
    CHECK(f.get(pending).at("state") == "withdrawn");
    expect_error(review(f.daemon.url, pending, kReviewerToken), 409, "not_pending");
  }
  SECTION("a rejected item has nothing to retract") {
    REQUIRE(review(f.daemon.url, pending, kReviewerToken, "reject").status == 201);
    expect_error(f.post("/v1/items/" + pending + "/retract", {{"reason", "x"}}), 409,
                 "not_retractable");
  }
  SECTION("corrections: of a publication, of an item under review, on another channel") {
    json publication = {{"kind", "publication"},
                        {"category", "work_news"},
                        {"title", "关于召开工作会议的通知"},
                        {"body", "正文"},
                        {"channels", {"webhook"}}};
    const std::string pub = f.submit(publication);
    approve_twice(f.daemon.url, pub);
    expect_error(f.post("/v1/items/" + pub + "/corrections", {{"title", "更正"}}), 422,
                 "not_correctable");
    expect_error(f.post("/v1/items/" + pending + "/corrections", {{"title", "更正"}}), 409,
                 "not_correctable");
    approve_twice(f.daemon.url, pending);
    auto other = f.post("/v1/items/" + pending + "/corrections",
                        {{"title", "更正"}, {"channels", {"weibo"}}});
    expect_error(other, 422, "validation_failed");
    CHECK(json_of(other)["error"].at("field") == "channels[0]");
    expect_error(f.post("/v1/items/0000000000000000000000000z/corrections", {{"title", "更正"}}),
                 404, "not_found");
    expect_error(
        f.post("/v1/items/" + pending + "/corrections", {{"title", "更正"}}, kReviewerToken), 403,
        "forbidden");
  }
}
