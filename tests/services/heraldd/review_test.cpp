// Two-level review (两级审核), the content gate (内外有别) and the audit trail (备案), as a client
// sees them: a real heraldd, a real redis-server, herald-sim.
#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "core/clock.h"
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

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

long long redis_int(const std::vector<std::string>& command) {
  RedisConnection conn(test_redis_options());
  auto reply = conn.command(command);
  REQUIRE(reply);
  return reply->integer;
}

struct Fixture {
  std::string prefix = unique_key_prefix("review");
  std::string dir = make_temp_dir("review");
  std::string words_path = dir + "/blocked-words.txt";
  SimHandle sim = start_sim();
  HeralddHandle daemon;

  explicit Fixture(const std::string& words = "# 测试词表\n国家秘密\n机密\n") {
    std::ofstream(words_path) << words;
    json config = test_config(prefix, sim.url);
    config["gate"]["blocked_words_file"] = words_path;
    daemon = start_heraldd(config, dir);
  }

  std::string submit(const json& item) {
    auto r = http("POST", daemon.url + "/v1/items", kDutyToken, item.dump(), json_headers());
    INFO(r.body);
    REQUIRE(r.status == 201);
    return json_of(r).at("id");
  }
  json get(const std::string& id) {
    return json_of(http("GET", daemon.url + "/v1/items/" + id, kAdminToken));
  }
};

void expect_error(const HttpResponse& r, long status, const std::string& code) {
  INFO(r.body);
  CHECK(r.status == status);
  CHECK(json_of(r).at("error").at("code") == code);
  CHECK_FALSE(json_of(r)["error"].at("message").get<std::string>().empty());
}

}  // namespace

TEST_CASE("reviews come from distinct reviewers, never the author, and a rejection is final",
          "[api][review]") {
  Fixture f;
  const std::string id = f.submit(sample_alert());
  bool approved = false;

  SECTION("the author may not approve their own item") {
    expect_error(review(f.daemon.url, id, kDutyToken), 409, "self_approval");
    CHECK(f.get(id).at("approvals").empty());
  }
  SECTION("one reviewer cannot approve twice") {
    REQUIRE(review(f.daemon.url, id, kReviewerToken).status == 201);
    expect_error(review(f.daemon.url, id, kReviewerToken), 409, "already_reviewed");
    const json item = f.get(id);
    CHECK(item.at("state") == "pending_review");
    CHECK(item.at("approvals").size() == 1);
    CHECK(item["approvals"][0].at("via") == "herald");
    CHECK(item.at("deliveries").empty());
  }
  SECTION("a role that may not review is refused") {
    expect_error(review(f.daemon.url, id, kAdminToken), 403, "forbidden");
    expect_error(review(f.daemon.url, id, ""), 401, "unauthorized");
  }
  SECTION("a rejected item is never delivered and cannot be reviewed again") {
    auto rejected = review(f.daemon.url, id, kReviewerToken, "reject", "措辞需修改");
    REQUIRE(rejected.status == 201);
    CHECK(json_of(rejected).at("state") == "rejected");
    expect_error(review(f.daemon.url, id, kReviewer2Token), 409, "not_pending");
    const json item = f.get(id);
    CHECK(item.at("state") == "rejected");
    CHECK(item.at("deliveries").empty());
    REQUIRE(item.at("approvals").size() == 1);
    CHECK(item["approvals"][0].at("decision") == "reject");
    CHECK(item["approvals"][0].at("comment") == "措辞需修改");
    // Nothing was ever queued for it, nor is a fan-out pending that recovery could run.
    CHECK(redis_int({"EXISTS", f.prefix + "{webhook}:d:" + id + ".webhook"}) == 0);
    CHECK(redis_int({"ZCARD", f.prefix + "{items}:fanout"}) == 0);
  }
  SECTION("an approved item cannot be reviewed again") {
    approve_twice(f.daemon.url, id);
    approved = true;
    auto r = http("POST", f.daemon.url + "/v1/items/" + id + "/approvals", kDutyToken,
                  R"({"decision": "approve"})", json_headers());
    expect_error(r, 409, "not_pending");
  }
  SECTION("a bad review body, or an unknown item") {
    auto bad = http("POST", f.daemon.url + "/v1/items/" + id + "/approvals", kReviewerToken,
                    R"({"decision": "maybe"})", json_headers());
    expect_error(bad, 422, "validation_failed");
    CHECK(json_of(bad)["error"].at("field") == "decision");
    expect_error(review(f.daemon.url, "0000000000nosuchitem00000", kReviewerToken), 404,
                 "not_found");
    CHECK(f.get(id).at("approvals").empty());
  }
  if (!approved) CHECK(sim_published(f.sim.url, "webhook").at("count") == 0);
}

TEST_CASE("the content gate refuses classified items and blocked words, with their positions",
          "[api][gate]") {
  Fixture f;
  const std::string items = f.daemon.url + "/v1/items";

  SECTION("an item that is not public") {
    json item = sample_alert();
    item["classification"] = "confidential";
    auto r = http("POST", items, kDutyToken, item.dump(), json_headers());
    expect_error(r, 422, "classified");
    CHECK(json_of(r)["error"].at("field") == "classification");
    CHECK(json_of(r)["error"].at("message").get<std::string>().find("confidential") !=
          std::string::npos);
  }
  SECTION("blocked words in the title and the body") {
    json item = sample_alert();
    item["title"] = "关于机密事项的提醒";
    item["body"] = "正文提到国家秘密。";
    auto r = http("POST", items, kDutyToken, item.dump(), json_headers());
    expect_error(r, 422, "blocked_content");
    const json error = json_of(r).at("error");
    CHECK(error.at("field") == "title");
    REQUIRE(error.at("details").size() == 2);
    CHECK(error["details"][0] == json{{"word", "机密"}, {"field", "title"}, {"position", 2}});
    CHECK(error["details"][1] == json{{"word", "国家秘密"}, {"field", "body"}, {"position", 4}});
  }
  SECTION("hidden and traditional spellings, in every field a channel publishes") {
    json item = sample_alert();
    item["title"] = "关于机\u200b密事项的提醒";  // a zero-width space inside the word
    item["instruction"] = "切勿洩露國家秘密";    // traditional, for CAP <instruction>
    item["attachments"] = {{{"name", "機\u00ad密.pdf"}, {"url", "https://example.gov.cn/a.pdf"}}};
    auto r = http("POST", items, kDutyToken, item.dump(), json_headers());
    expect_error(r, 422, "blocked_content");
    const json error = json_of(r).at("error");
    CHECK(error.at("field") == "title");
    REQUIRE(error.at("details").size() == 3);
    // Positions count what the drafter typed, hidden characters included.
    CHECK(error["details"][0] == json{{"word", "机密"}, {"field", "title"}, {"position", 2}});
    CHECK(error["details"][1] ==
          json{{"word", "机密"}, {"field", "attachments[0].name"}, {"position", 0}});
    CHECK(error["details"][2] ==
          json{{"word", "国家秘密"}, {"field", "instruction"}, {"position", 4}});
  }
  CHECK(redis_int({"ZCARD", f.prefix + "{items}:by_time"}) == 0);
}

TEST_CASE("the dispatch-time gate normalises too and checks the extra fields", "[api][gate]") {
  Fixture f;
  json item = sample_alert();
  item["instruction"] = "請遠離示威區域";  // traditional; reaches CAP and the webhook
  const TimePoint publish_at = std::chrono::time_point_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now() + std::chrono::seconds(6));
  item["publish_at"] = format_rfc3339(std::chrono::ceil<std::chrono::seconds>(publish_at));
  const std::string id = f.submit(item);
  approve_twice(f.daemon.url, id);
  REQUIRE(f.get(id).at("state") == "scheduled");

  std::ofstream(f.words_path) << "国家秘密\n机密\n示威区域\n";
  f.daemon.process.signal(SIGHUP);
  REQUIRE(wait_until(
      [&] {
        return read_text(f.daemon.log_path).find("content gate reloaded: 3") != std::string::npos;
      },
      std::chrono::seconds(10)));
  REQUIRE(std::chrono::system_clock::now() < publish_at);

  json delivery;
  REQUIRE(wait_until(
      [&] {
        const json got = f.get(id);
        if (got.at("deliveries").empty()) return false;
        delivery = got["deliveries"][0];
        return delivery.at("state") == "dead";
      },
      std::chrono::seconds(20)));
  CHECK(delivery.at("last_error").at("code") == "gate_blocked");
  CHECK(delivery.at("last_error")
            .at("message")
            .get<std::string>()
            .find("\"示威区域\" in instruction at 3") != std::string::npos);
  CHECK(sim_published(f.sim.url, "webhook").at("count") == 0);
}

TEST_CASE("a word blocked after approval holds the delivery as a gate_blocked dead letter",
          "[api][gate]") {
  Fixture f;
  // Scheduled a little ahead, so the list can change between the approval and the publication.
  json item = sample_alert();
  const TimePoint publish_at = std::chrono::time_point_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now() + std::chrono::seconds(6));
  item["publish_at"] = format_rfc3339(std::chrono::ceil<std::chrono::seconds>(publish_at));
  const std::string id = f.submit(item);
  approve_twice(f.daemon.url, id);
  REQUIRE(f.get(id).at("state") == "scheduled");

  SECTION("a word list that does not parse is refused on reload and the old list stays") {
    std::ofstream(f.words_path) << "ok\n\xC3\x28\n";
    f.daemon.process.signal(SIGHUP);
    REQUIRE(wait_until(
        [&] {
          return read_text(f.daemon.log_path).find("content gate not reloaded") !=
                 std::string::npos;
        },
        std::chrono::seconds(10)));
    json blocked = sample_alert();
    blocked["body"] = "机密";
    expect_error(
        http("POST", f.daemon.url + "/v1/items", kDutyToken, blocked.dump(), json_headers()), 422,
        "blocked_content");
  }

  std::ofstream(f.words_path) << "国家秘密\n机密\n泰国南部\n";  // in the sample alert's title
  f.daemon.process.signal(SIGHUP);
  REQUIRE(wait_until(
      [&] {
        return read_text(f.daemon.log_path).find("content gate reloaded: 3") != std::string::npos;
      },
      std::chrono::seconds(10)));
  // Otherwise the test proves nothing: the delivery may already have gone out.
  REQUIRE(std::chrono::system_clock::now() < publish_at);

  json delivery;
  REQUIRE(wait_until(
      [&] {
        const json got = f.get(id);
        if (got.at("deliveries").empty()) return false;
        delivery = got["deliveries"][0];
        return delivery.at("state") == "dead";
      },
      std::chrono::seconds(20)));
  CHECK(delivery.at("last_error").at("code") == "gate_blocked");
  CHECK(delivery.at("last_error").at("message").get<std::string>().find("泰国南部") !=
        std::string::npos);
  CHECK(sim_published(f.sim.url, "webhook").at("count") == 0);
  CHECK(f.get(id).at("state") == "failed");
}

TEST_CASE("an item's audit trail records its whole life in time order", "[api][audit]") {
  Fixture f;
  const std::string id = f.submit(sample_alert());
  REQUIRE(review(f.daemon.url, id, kReviewerToken, "approve", "第一审").status == 201);
  REQUIRE(review(f.daemon.url, id, kReviewer2Token, "approve", "第二审").status == 201);
  json item;
  REQUIRE(wait_until(
      [&] {
        item = f.get(id);
        return item.value("state", "") == "published";
      },
      std::chrono::seconds(10)));
  const std::string remote_id = item["deliveries"][0].at("remote_id");

  const auto r = http("GET", f.daemon.url + "/v1/items/" + id + "/audit", kReviewerToken);
  REQUIRE(r.status == 200);
  const json events = json_of(r).at("events");
  INFO(events.dump(2));
  std::vector<std::string> names;
  long long previous = 0;
  for (const auto& e : events) {
    names.push_back(e.at("event"));
    CHECK(e.at("at_ms").get<long long>() >= previous);
    previous = e.at("at_ms");
  }
  CHECK(names == std::vector<std::string>{"submitted", "approval", "approval", "approved", "queued",
                                          "attempt", "published"});
  REQUIRE(events.size() == 7);
  CHECK(events[0].at("who") == "duty");
  CHECK(events[1].at("who") == "rev");
  CHECK(events[1].at("comment") == "第一审");
  CHECK(events[2].at("who") == "rev2");
  CHECK(events[2].at("decision") == "approve");
  CHECK(events[3].at("who") == "rev2");
  CHECK(events[5].at("channel") == "webhook");
  CHECK(events[5].at("delivery") == id + ".webhook");
  CHECK(events[5].at("attempt") == "1");
  CHECK(events[6].at("remote_id") == remote_id);

  // The streams expire after the retention (ten years by default), refreshed on every write.
  const long long ttl = redis_int({"TTL", f.prefix + "{items}:log:" + id});
  CHECK(ttl > 3600LL * 24 * 3650);
  CHECK(redis_int({"TTL", f.prefix + "{webhook}:log:" + id + ".webhook"}) > 3600LL * 24 * 3650);

  CHECK(
      http("GET", f.daemon.url + "/v1/items/0000000000nosuchitem00000/audit", kDutyToken).status ==
      404);
}
