// heraldd's REST API as a client sees it: a real heraldd process, a real redis-server, herald-sim.
#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "core/digest.h"
#include "queue/redis.h"
#include "tests/support/herald_processes.h"
#include "tests/support/redis_server.h"

using namespace herald;
using namespace herald::test;
using nlohmann::json;

namespace {

std::vector<std::pair<std::string, std::string>> json_headers() {
  return {{"Content-Type", "application/json"}};
}

long long redis_count(const std::string& command, const std::string& key) {
  RedisConnection conn(test_redis_options());
  auto reply = conn.command({command, key});
  REQUIRE(reply);
  return reply->integer;
}

struct Fixture {
  std::string prefix = unique_key_prefix("api");
  std::string dir = make_temp_dir("api");
  SimHandle sim = start_sim();
  HeralddHandle daemon = start_heraldd(test_config(prefix, sim.url), dir);
};

}  // namespace

TEST_CASE("an item is delivered only after two distinct reviewers approve it", "[api][review]") {
  Fixture f;
  auto created =
      http("POST", f.daemon.url + "/v1/items", kDutyToken, sample_alert().dump(), json_headers());
  REQUIRE(created.status == 201);
  const json answer = json_of(created);
  const std::string id = answer.at("id");
  CHECK(answer.at("state") == "pending_review");
  CHECK(created.header("location") == "/v1/items/" + id);

  // Pending: no delivery exists yet.
  json pending = json_of(http("GET", f.daemon.url + "/v1/items/" + id, kReviewerToken));
  CHECK(pending.at("state") == "pending_review");
  CHECK(pending.at("deliveries").empty());
  CHECK(pending.at("approvals").empty());
  CHECK(pending.at("approvals_required") == 2);

  auto first = review(f.daemon.url, id, kReviewerToken, "approve", "核实无误");
  REQUIRE(first.status == 201);
  CHECK(json_of(first).at("state") == "pending_review");
  CHECK(json_of(first).at("approvals") == 1);
  pending = json_of(http("GET", f.daemon.url + "/v1/items/" + id, kReviewerToken));
  CHECK(pending.at("state") == "pending_review");
  CHECK(pending.at("deliveries").empty());
  REQUIRE(pending.at("approvals").size() == 1);
  CHECK(pending["approvals"][0].at("user") == "rev");
  CHECK(pending["approvals"][0].at("decision") == "approve");
  CHECK(pending["approvals"][0].at("comment") == "核实无误");
  CHECK_FALSE(pending["approvals"][0].at("at").get<std::string>().empty());
  CHECK(redis_count("EXISTS", f.prefix + "{webhook}:d:" + id + ".webhook") == 0);

  auto second = review(f.daemon.url, id, kReviewer2Token, "approve");
  REQUIRE(second.status == 201);
  CHECK(json_of(second).at("state") == "queued");
  CHECK(json_of(second).at("approvals") == 2);

  json item;
  REQUIRE(wait_until(
      [&] {
        item = json_of(http("GET", f.daemon.url + "/v1/items/" + id, kReviewerToken));
        return item.value("state", "") == "published";
      },
      std::chrono::seconds(10)));
  REQUIRE(item.at("deliveries").size() == 1);
  const json& delivery = item["deliveries"][0];
  CHECK(delivery.at("channel") == "webhook");
  CHECK(delivery.at("state") == "published");
  CHECK(delivery.at("attempts") == 1);
  CHECK_FALSE(delivery.at("remote_id").get<std::string>().empty());
  CHECK(item.at("title") == sample_alert().at("title"));
  CHECK(item.at("author") == "duty");
  REQUIRE(item.at("approvals").size() == 2);
  CHECK(item["approvals"][1].at("user") == "rev2");

  const json published = sim_published(f.sim.url, "webhook");
  REQUIRE(published.at("count") == 1);
  CHECK(published["items"][0].at("idempotency_key") == "herald-" + id + ".webhook");
  CHECK(published["items"][0]["body"]["item"]["title"] == sample_alert().at("title"));
}

TEST_CASE("bad requests get a precise status and error body, and nothing is queued", "[api]") {
  Fixture f;
  const std::string items = f.daemon.url + "/v1/items";
  auto expect_error = [](const HttpResponse& r, long status, const std::string& code) {
    INFO(r.body);
    CHECK(r.status == status);
    const json body = json_of(r);
    CHECK(body.at("error").at("code") == code);
    CHECK_FALSE(body["error"].at("message").get<std::string>().empty());
    return body;
  };

  SECTION("malformed JSON") {
    expect_error(http("POST", items, kDutyToken, R"({"kind": "alert",)", json_headers()), 400,
                 "malformed_json");
  }
  SECTION("invalid UTF-8") {
    expect_error(http("POST", items, kDutyToken, "{\"title\": \"\xC3\x28\"}", json_headers()), 400,
                 "invalid_utf8");
  }
  SECTION("a body over the limit") {
    json big = sample_alert();
    big["body"] = std::string(2 * 1024 * 1024, 'x');
    expect_error(http("POST", items, kDutyToken, big.dump(), json_headers()), 413,
                 "body_too_large");
  }
  SECTION("no token, or a wrong one") {
    expect_error(http("POST", items, "", sample_alert().dump(), json_headers()), 401,
                 "unauthorized");
    expect_error(http("POST", items, "not-a-token", sample_alert().dump(), json_headers()), 401,
                 "unauthorized");
  }
  SECTION("a role that may not submit") {
    expect_error(http("POST", items, kReviewerToken, sample_alert().dump(), json_headers()), 403,
                 "forbidden");
  }
  SECTION("an unknown channel") {
    json item = sample_alert();
    item["channels"] = {"webhook", "telegram"};
    const json body = expect_error(http("POST", items, kDutyToken, item.dump(), json_headers()),
                                   422, "validation_failed");
    CHECK(body["error"].at("field") == "channels[1]");
  }
  SECTION("a control character or a non-character in any string, extra fields included") {
    json item = sample_alert();
    item["alert"]["areas"][0]["desc"] = "泰国\xEF\xBF\xBF";
    json body = expect_error(http("POST", items, kDutyToken, item.dump(), json_headers()), 422,
                             "validation_failed");
    CHECK(body["error"].at("field") == "alert.areas[0].desc");
    CHECK(body["error"].at("message").get<std::string>().find("U+FFFF") != std::string::npos);
    item = sample_alert();
    item["title"] = "真\x1b[2K\x1b[1G假";
    body = expect_error(http("POST", items, kDutyToken, item.dump(), json_headers()), 422,
                        "validation_failed");
    CHECK(body["error"].at("field") == "title");
    CHECK(body["error"].at("message").get<std::string>().find("character 2") != std::string::npos);
    item = sample_alert();
    item["source"] = {{"notes", {"ok", "\xC2\x85"}}};
    body = expect_error(http("POST", items, kDutyToken, item.dump(), json_headers()), 422,
                        "validation_failed");
    CHECK(body["error"].at("field") == "source.notes[1]");
  }
  SECTION("not JSON at all") {
    expect_error(http("POST", items, kDutyToken, "title=x", {{"Content-Type", "text/plain"}}), 415,
                 "unsupported_media_type");
  }
  SECTION("an item that does not exist") {
    expect_error(http("GET", items + "/0000000000nosuchitem00000", kDutyToken), 404, "not_found");
  }

  CHECK(redis_count("ZCARD", f.prefix + "{items}:by_time") == 0);
  CHECK(redis_count("LLEN", f.prefix + "{webhook}:alert") == 0);
  CHECK(sim_published(f.sim.url, "webhook").at("count") == 0);
}

TEST_CASE("an Idempotency-Key is scoped to its user and its route", "[api]") {
  const std::string prefix = unique_key_prefix("api");
  const std::string dir = make_temp_dir("api");
  SimHandle sim = start_sim();
  json config = test_config(prefix, sim.url);
  config["auth"]["users"].push_back({{"name", "drafter2"},
                                     {"roles", {"drafter"}},
                                     {"token_sha256", sha256_hex("drafter2-token")}});
  HeralddHandle daemon = start_heraldd(config, dir);
  const std::string items = daemon.url + "/v1/items";
  auto approved_alert = [&](const std::string& title) {
    json alert = sample_alert();
    alert["title"] = title;
    auto r = http("POST", items, kDutyToken, alert.dump(), json_headers());
    INFO(r.body);
    REQUIRE(r.status == 201);
    const std::string id = json_of(r).at("id");
    approve_twice(daemon.url, id);
    return id;
  };
  const std::string a = approved_alert("提醒甲");
  const std::string b = approved_alert("提醒乙");
  auto keyed = json_headers();
  keyed.emplace_back("Idempotency-Key", "k-1");
  const std::string correction = json{{"title", "更正：提醒"}}.dump();

  auto on_a = http("POST", items + "/" + a + "/corrections", kDutyToken, correction, keyed);
  INFO(on_a.body);
  REQUIRE(on_a.status == 201);
  // The same key and body on another item's corrections is another correction.
  auto on_b = http("POST", items + "/" + b + "/corrections", kDutyToken, correction, keyed);
  INFO(on_b.body);
  REQUIRE(on_b.status == 201);
  CHECK(json_of(on_b).at("corrects") == b);
  CHECK(json_of(on_b).at("id") != json_of(on_a).at("id"));
  CHECK(on_b.header("idempotent-replayed").empty());
  // A retry on the first route still gets the first answer.
  auto again = http("POST", items + "/" + a + "/corrections", kDutyToken, correction, keyed);
  CHECK(again.status == 201);
  CHECK(json_of(again).at("id") == json_of(on_a).at("id"));
  CHECK(again.header("idempotent-replayed") == "true");

  // The same key on POST /v1/items is a new submission, not a conflict with the corrections.
  auto submitted = http("POST", items, kDutyToken, sample_alert().dump(), keyed);
  INFO(submitted.body);
  REQUIRE(submitted.status == 201);
  CHECK(submitted.header("idempotent-replayed").empty());
  // And another user's key is theirs alone.
  auto other_user = http("POST", items, "drafter2-token", sample_alert().dump(), keyed);
  INFO(other_user.body);
  REQUIRE(other_user.status == 201);
  CHECK(json_of(other_user).at("id") != json_of(submitted).at("id"));
  CHECK(other_user.header("idempotent-replayed").empty());
}

TEST_CASE("an Idempotency-Key makes a retried submit return the first answer", "[api]") {
  Fixture f;
  const std::string items = f.daemon.url + "/v1/items";
  auto headers = json_headers();
  headers.emplace_back("Idempotency-Key", "cms-4711");
  auto first = http("POST", items, kDutyToken, sample_alert().dump(), headers);
  REQUIRE(first.status == 201);
  auto again = http("POST", items, kDutyToken, sample_alert().dump(), headers);
  CHECK(again.status == 201);
  CHECK(json_of(again).at("id") == json_of(first).at("id"));
  CHECK(json_of(again).at("state") == "pending_review");
  CHECK(again.header("idempotent-replayed") == "true");
  approve_twice(f.daemon.url, json_of(first).at("id"));

  json other = sample_alert();
  other["title"] = "另一条提醒";
  auto conflict = http("POST", items, kDutyToken, other.dump(), headers);
  CHECK(conflict.status == 409);
  CHECK(json_of(conflict)["error"]["code"] == "idempotency_conflict");

  CHECK(redis_count("ZCARD", f.prefix + "{items}:by_time") == 1);
  REQUIRE(wait_until([&] { return sim_published(f.sim.url, "webhook").at("count") == 1; },
                     std::chrono::seconds(10)));
}

TEST_CASE("health and readiness answer without a token, and SIGTERM stops heraldd cleanly",
          "[api]") {
  Fixture f;
  CHECK(http("GET", f.daemon.url + "/healthz").status == 200);
  CHECK(http("GET", f.daemon.url + "/readyz").status == 200);
  f.daemon.process.signal(SIGTERM);
  auto code = f.daemon.process.wait(std::chrono::seconds(20));
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}
