// POST /v1/items:batch against a real heraldd, redis-server and herald-sim: each item checked as
// POST /v1/items checks one and answered on its own, per-item idempotency, NDJSON, the limits, the
// roles, and CMS-approved items published once each.
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <set>

#include "core/digest.h"
#include "queue/redis.h"
#include "tests/support/herald_processes.h"
#include "tests/support/redis_server.h"

using namespace herald;
using namespace herald::test;
using nlohmann::json;

namespace {

constexpr const char* kPublisherToken = "publisher-token";
constexpr const char* kCmsKey = "trs-cms-signing-key";

std::vector<std::pair<std::string, std::string>> headers_for(
    const std::string& content_type, const std::string& idempotency_key = "") {
  std::vector<std::pair<std::string, std::string>> h = {{"Content-Type", content_type}};
  if (!idempotency_key.empty()) h.emplace_back("Idempotency-Key", idempotency_key);
  return h;
}

json publication(const std::string& title) {
  return sample_publication(title);
}

json approval(const std::string& user) {
  return {{"user", user},
          {"decision", "approve"},
          {"at", "2026-01-05T09:00:00+08:00"},
          {"comment", "同意发布"}};
}

// The item with the approval record the CMS "trs-cms" sends (README.md, "CMS approval records").
json with_record(json item, const std::string& reference) {
  const std::string content = sha256_hex(item.dump());
  json approvals = json::array({approval("rev"), approval("rev2")});
  for (auto& a : approvals) {
    const std::string message = "herald-cms-approval-v1\n" + content + "\n" + a.value("user", "") +
                                "\n" + a.value("decision", "") + "\n" + a.value("at", "") + "\n" +
                                a.value("comment", "");
    a["signature"] = hmac_sha256_hex(kCmsKey, message);
  }
  item["approval_record"] = {
      {"system", "trs-cms"}, {"reference", reference}, {"approvals", std::move(approvals)}};
  return item;
}

void expect_error(const HttpResponse& r, long status, const std::string& code) {
  INFO(r.body);
  CHECK(r.status == status);
  const json body = json_of(r);
  CHECK(body.at("error").at("code") == code);
  CHECK_FALSE(body["error"].at("message").get<std::string>().empty());
}

struct Fixture {
  std::string prefix = unique_key_prefix("batch");
  std::string dir = make_temp_dir("batch");
  SimHandle sim;
  HeralddHandle daemon;
  std::string batch_url;

  explicit Fixture(const std::function<void(json&)>& adjust = {}) : sim(start_sim()) {
    json config = test_config(prefix, sim.url);
    std::ofstream(dir + "/blocked-words.txt") << "机密\n";
    config["gate"]["blocked_words_file"] = dir + "/blocked-words.txt";
    config["auth"]["users"].push_back(
        {{"name", "cms"}, {"roles", {"publisher"}}, {"token_sha256", sha256_hex(kPublisherToken)}});
    if (adjust) adjust(config);
    daemon = start_heraldd(config, dir);
    batch_url = daemon.url + "/v1/items:batch";
  }

  // POSTs a batch, requires 200 and the counts to add up; the answer.
  json post(const std::string& body, const std::string& token = kDutyToken,
            const std::string& content_type = "application/json",
            const std::string& idempotency_key = "") {
    const auto r = http("POST", batch_url, token, body, headers_for(content_type, idempotency_key));
    INFO(r.body.substr(0, 2000));
    REQUIRE(r.status == 200);
    json answer = json_of(r);
    REQUIRE(answer.at("results").is_array());
    CHECK(answer.at("created").get<std::size_t>() + answer.at("replayed").get<std::size_t>() +
              answer.at("failed").get<std::size_t>() ==
          answer["results"].size());
    for (std::size_t i = 0; i < answer["results"].size(); ++i) {
      CHECK(answer["results"][i].at("index") == i);
    }
    return answer;
  }
  json get(const std::string& path) {
    auto r = http("GET", daemon.url + path, kAdminToken);
    INFO(path << ": " << r.body);
    REQUIRE(r.status == 200);
    return json_of(r);
  }
  long long stored_items() {
    RedisConnection conn(test_redis_options());
    auto reply = conn.command({"ZCARD", prefix + "{items}:by_time"});
    REQUIRE(reply);
    return reply->integer;
  }
};

void accept_cms(json& config) {
  config["review"]["accept_cms_approvals"] = true;
  config["review"]["cms_alerts"] = "accepted";
  config["review"]["cms"] = {
      {{"name", "trs-cms"}, {"publisher_user", "cms"}, {"hmac_key", kCmsKey}}};
}

}  // namespace

TEST_CASE("a mixed batch is answered item by item and only the valid items are stored",
          "[api][batch]") {
  Fixture f;
  json classified = sample_alert();
  classified["classification"] = "confidential";
  json blocked = publication("关于机密事项的提醒");
  json no_title = publication("");
  no_title.erase("title");
  json forged = publication("伪造作者");
  forged["author"] = "someone-else";
  const json batch = json::array(
      {sample_alert(), classified, no_title, publication("工作动态一"), blocked, forged});
  const json answer = f.post(batch.dump());
  const json& results = answer.at("results");
  REQUIRE(results.size() == 6);

  CHECK(results[0].at("status") == 201);
  CHECK(results[0].at("state") == "pending_review");
  CHECK(results[3].at("status") == 201);
  // The same status and error body POST /v1/items answers for each.
  CHECK(results[1].at("status") == 422);
  CHECK(results[1].at("error").at("code") == "classified");
  CHECK(results[1]["error"].at("field") == "classification");
  CHECK(results[2].at("status") == 422);
  CHECK(results[2].at("error").at("code") == "validation_failed");
  CHECK(results[2]["error"].at("field") == "title");
  CHECK(results[4].at("status") == 422);
  CHECK(results[4].at("error").at("code") == "blocked_content");
  CHECK(results[4]["error"].at("details").at(0).at("field") == "title");
  CHECK(results[5].at("status") == 422);
  CHECK(results[5]["error"].at("field") == "author");
  for (int i : {1, 2, 4, 5}) CHECK_FALSE(results[i].contains("id"));
  CHECK(answer.at("created") == 2);
  CHECK(answer.at("failed") == 4);

  const auto single = http("POST", f.daemon.url + "/v1/items", kDutyToken, classified.dump(),
                           headers_for("application/json"));
  CHECK(json_of(single).at("error") == results[1].at("error"));

  // Exactly the two valid items, as submitted, each with its "submitted" audit event.
  CHECK(f.stored_items() == 2);
  for (int i : {0, 3}) {
    const std::string id = results[i].at("id");
    const json item = f.get("/v1/items/" + id);
    CHECK(item.at("author") == "duty");
    CHECK(item.at("title") == batch[i].at("title"));
    CHECK(item.at("state") == "pending_review");
    const json events = f.get("/v1/items/" + id + "/audit").at("events");
    REQUIRE(events.size() == 1);
    CHECK(events[0].at("event") == "submitted");
    CHECK(events[0].at("who") == "duty");
  }
  // Reviewed as any item is: two approvals publish it.
  approve_twice(f.daemon.url, results[3].at("id"));
  REQUIRE(wait_until(
      [&] {
        return f.get("/v1/items/" + results[3].at("id").get<std::string>()).at("state") ==
               "published";
      },
      std::chrono::seconds(10)));
}

TEST_CASE("a retried batch creates nothing twice", "[api][batch][idempotency]") {
  Fixture f;

  SECTION("each item's own idempotency_key") {
    json batch = json::array();
    for (int i = 0; i < 5; ++i) {
      json item = publication("通知 " + std::to_string(i));
      item["idempotency_key"] = "cms-item-" + std::to_string(i);
      batch.push_back(item);
    }
    batch.push_back(publication(""));  // refused: an empty title
    const json first = f.post(batch.dump());
    CHECK(first.at("created") == 5);
    CHECK(first.at("failed") == 1);

    // The same items, reordered and re-serialised: the keys, not the positions, identify them.
    json retry = json::array();
    for (int i = 4; i >= 0; --i) retry.push_back(batch[i]);
    const json second = f.post(retry.dump(2));
    CHECK(second.at("created") == 0);
    CHECK(second.at("replayed") == 5);
    for (int k = 0; k < 5; ++k) {
      const json& r = second["results"][k];
      CHECK(r.at("status") == 200);
      CHECK(r.at("replayed") == true);
      CHECK(r.at("state") == "pending_review");
      CHECK(r.at("id") == first["results"][4 - k].at("id"));
    }
    CHECK(f.stored_items() == 5);
    // The key is not part of the item.
    CHECK_FALSE(f.get("/v1/items/" + first["results"][0].at("id").get<std::string>())
                    .contains("idempotency_key"));

    // A key reused for another item: 409 for that item, the others still answered.
    json changed = json::array({batch[0], batch[1]});
    changed[1]["title"] = "另一条";
    const json third = f.post(changed.dump());
    CHECK(third["results"][0].at("status") == 200);
    CHECK(third["results"][1].at("status") == 409);
    CHECK(third["results"][1].at("error").at("code") == "idempotency_conflict");
    CHECK(third["results"][1]["error"].at("field") == "idempotency_key");
    CHECK(third["results"][1]["error"].at("message").get<std::string>().find(
              first["results"][1].at("id").get<std::string>()) != std::string::npos);

    // The same key twice in one batch is refused for the second.
    json twice = json::array({publication("甲"), publication("乙")});
    twice[0]["idempotency_key"] = twice[1]["idempotency_key"] = "same-key";
    const json fourth = f.post(twice.dump());
    CHECK(fourth["results"][0].at("status") == 201);
    CHECK(fourth["results"][1].at("status") == 422);
    CHECK(fourth["results"][1]["error"].at("field") == "idempotency_key");
    CHECK(f.stored_items() == 6);
  }

  SECTION("the batch's Idempotency-Key with each item's index") {
    const json batch = json::array({publication("一"), publication("二"), sample_alert()});
    const json first = f.post(batch.dump(), kDutyToken, "application/json", "cms-batch-7");
    CHECK(first.at("created") == 3);
    const json second = f.post(batch.dump(), kDutyToken, "application/json", "cms-batch-7");
    CHECK(second.at("replayed") == 3);
    for (int i = 0; i < 3; ++i) CHECK(second["results"][i].at("id") == first["results"][i]["id"]);
    CHECK(f.stored_items() == 3);
    // Another batch key is another batch; another user is another scope.
    CHECK(f.post(batch.dump(), kDutyToken, "application/json", "cms-batch-8").at("created") == 3);
    CHECK(f.post(batch.dump(), kPublisherToken, "application/json", "cms-batch-7").at("created") ==
          3);
    CHECK(f.stored_items() == 9);
  }
}

TEST_CASE("an NDJSON batch takes one item per line; a line that is not JSON is that item's 400",
          "[api][batch]") {
  Fixture f;
  const std::string body = publication("第一行").dump() + "\n" + "\r\n" +  // a blank line
                           "{\"kind\": \"publication\",\n" +               // not JSON
                           publication("第四行").dump() + "\r\n" + sample_alert().dump() + "\n";
  const json answer = f.post(body, kDutyToken, "application/x-ndjson");
  const json& results = answer.at("results");
  REQUIRE(results.size() == 4);
  CHECK(results[0].at("status") == 201);
  CHECK(results[0].at("line") == 1);
  CHECK(results[1].at("status") == 400);
  CHECK(results[1].at("line") == 3);
  CHECK(results[1].at("error").at("code") == "malformed_json");
  CHECK(results[2].at("status") == 201);
  CHECK(results[2].at("line") == 4);
  CHECK(results[3].at("status") == 201);
  CHECK(answer.at("created") == 3);
  CHECK(f.stored_items() == 3);

  expect_error(http("POST", f.batch_url, kDutyToken, "\n\n", headers_for("application/x-ndjson")),
               400, "empty_batch");
}

TEST_CASE("a batch that is not a usable whole gets one precise error and stores nothing",
          "[api][batch]") {
  Fixture f;
  const auto post = [&](const std::string& body, const std::string& type = "application/json") {
    return http("POST", f.batch_url, kDutyToken, body, headers_for(type));
  };
  expect_error(post("[" + publication("一").dump() + ", {\"kind\": "), 400, "malformed_json");
  expect_error(post(publication("一").dump()), 400, "not_an_array");
  expect_error(post("[]"), 400, "empty_batch");
  expect_error(post("[\"\xC3\x28\"]"), 400, "invalid_utf8");
  expect_error(post(json::array({publication("一")}).dump(), "text/plain"), 415,
               "unsupported_media_type");
  expect_error(http("GET", f.batch_url, kDutyToken), 405, "method_not_allowed");

  SECTION("more than 1,000 items: 413, in either format") {
    json many = json::array();
    std::string lines;
    for (int i = 0; i < 1001; ++i) {
      many.push_back(publication("条目 " + std::to_string(i)));
      lines += many.back().dump() + "\n";
    }
    auto r = post(many.dump());
    expect_error(r, 413, "too_many_items");
    CHECK(json_of(r)["error"].at("message").get<std::string>().find("1001") != std::string::npos);
    expect_error(post(lines, "application/x-ndjson"), 413, "too_many_items");
  }
  SECTION("a body over the batch's own cap: 413 before the handler") {
    json big = json::array({publication("大")});
    big[0]["body"] = std::string(17 * 1024 * 1024, 'x');
    expect_error(post(big.dump()), 413, "body_too_large");
  }
  CHECK(f.stored_items() == 0);
}

TEST_CASE("1,000 items of over 1 MiB in all fit the batch's body cap, not the single route's",
          "[api][batch][slow]") {
  Fixture f;
  json batch = json::array();
  for (int i = 0; i < 1000; ++i) {
    json item = sample_alert();
    item["title"] = "提醒 " + std::to_string(i);
    item["body"] = item["body"].get<std::string>() + std::string(600, '.');
    item["idempotency_key"] = "bulk-" + std::to_string(i);
    batch.push_back(std::move(item));
  }
  const std::string body = batch.dump();
  REQUIRE(body.size() > 1024 * 1024);
  const auto started = std::chrono::steady_clock::now();
  const json answer = f.post(body);
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(answer.at("created") == 1000);
  CHECK(f.stored_items() == 1000);
  WARN("1,000-item batch answered in "
       << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  // The single route keeps the configured 1 MiB.
  expect_error(
      http("POST", f.daemon.url + "/v1/items", kDutyToken, body, headers_for("application/json")),
      413, "body_too_large");
  // The whole batch again: 1,000 repeats, nothing new.
  const json again = f.post(body);
  CHECK(again.at("replayed") == 1000);
  CHECK(f.stored_items() == 1000);
}

TEST_CASE("a batch needs a role that may submit, as POST /v1/items does", "[api][batch][auth]") {
  Fixture f;
  const std::string body = json::array({publication("一")}).dump();
  expect_error(http("POST", f.batch_url, "", body, headers_for("application/json")), 401,
               "unauthorized");
  for (const char* token : {kReviewerToken, kReviewer2Token, kAdminToken}) {
    INFO(token);
    expect_error(http("POST", f.batch_url, token, body, headers_for("application/json")), 403,
                 "forbidden");
  }
  // A drafter's or duty officer's batch may not carry CMS approval records: per item, 403.
  const json answer = f.post(json::array({with_record(publication("记录"), "WF-1")}).dump());
  CHECK(answer["results"][0].at("status") == 403);
  CHECK(answer["results"][0]["error"].at("field") == "approval_record");
  CHECK(f.stored_items() == 0);
}

TEST_CASE("CMS-approved items of a batch are fanned out and published once each",
          "[api][batch][cms]") {
  Fixture f(accept_cms);
  json batch = json::array();
  for (int i = 0; i < 3; ++i) {
    json item =
        with_record(publication("CMS 通知 " + std::to_string(i)), "WF-2026-" + std::to_string(i));
    item["idempotency_key"] = "WF-2026-" + std::to_string(i);
    batch.push_back(std::move(item));
  }
  // Signed for other content: refused for that item alone.
  json tampered = with_record(publication("原文"), "WF-2026-9");
  tampered["title"] = "改过的标题";
  batch.push_back(tampered);
  batch.push_back(publication("待审核"));  // no record: goes to review

  const json answer = f.post(batch.dump(), kPublisherToken);
  const json& results = answer.at("results");
  for (int i = 0; i < 3; ++i) {
    CHECK(results[i].at("status") == 201);
    CHECK(results[i].at("state") == "queued");
  }
  CHECK(results[3].at("status") == 422);
  CHECK(results[3]["error"].at("code") == "invalid_approval_record");
  CHECK(results[4].at("state") == "pending_review");

  for (int i = 0; i < 3; ++i) {
    const std::string id = results[i].at("id");
    REQUIRE(wait_until([&] { return f.get("/v1/items/" + id).at("state") == "published"; },
                       std::chrono::seconds(10)));
    std::vector<std::string> events;
    const json history = f.get("/v1/items/" + id + "/audit");
    for (const auto& e : history.at("events")) {
      events.push_back(e.at("event"));
    }
    REQUIRE(events.size() >= 4);
    CHECK(std::vector<std::string>(events.begin(), events.begin() + 4) ==
          std::vector<std::string>{"submitted", "cms_approved", "approved", "queued"});
  }
  CHECK(sim_published(f.sim.url, "webhook").at("count") == 3);

  // The CMS retries the whole batch: the same answers, nothing published again.
  const json again = f.post(batch.dump(), kPublisherToken);
  for (int i = 0; i < 3; ++i) {
    CHECK(again["results"][i].at("status") == 200);
    CHECK(again["results"][i].at("id") == results[i].at("id"));
  }
  // The unkeyed item has no way to be recognised: it is a new submission.
  CHECK(again["results"][4].at("status") == 201);
  // A replay queues nothing: each item was queued once and delivered in one attempt.
  for (int i = 0; i < 3; ++i) {
    const std::string id = results[i].at("id");
    int queued = 0;
    const json history = f.get("/v1/items/" + id + "/audit");
    for (const auto& e : history.at("events")) {
      if (e.at("event") == "queued") ++queued;
    }
    CHECK(queued == 1);
    CHECK(f.get("/v1/items/" + id).at("deliveries").at(0).at("attempts") == 1);
  }
  CHECK(sim_published(f.sim.url, "webhook").at("count") == 3);
}

TEST_CASE("with redis.wait_replicas unconfirmed a batch is 503 and its retry creates nothing twice",
          "[api][batch][durability]") {
  // The test Redis has no replica, so WAIT never confirms.
  Fixture f([](json& c) {
    c["redis"]["wait_replicas"] = 1;
    c["redis"]["wait_timeout_ms"] = 100;
  });
  json batch = json::array({publication("一"), publication("二")});
  batch[0]["idempotency_key"] = "wait-1";
  batch[1]["idempotency_key"] = "wait-2";
  for (int attempt = 0; attempt < 2; ++attempt) {
    const auto r =
        http("POST", f.batch_url, kDutyToken, batch.dump(), headers_for("application/json"));
    expect_error(r, 503, "unavailable");
    CHECK(json_of(r)["error"].at("message").get<std::string>().find("retry the same batch") !=
          std::string::npos);
  }
  CHECK(f.stored_items() == 2);
  // Nothing to wait for when every item is refused.
  CHECK(f.post(json::array({publication("")}).dump()).at("failed") == 1);
}
