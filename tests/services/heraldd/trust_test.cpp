// What a client must not be able to do, and what a platform must not be able to break, through the
// API of a real heraldd (with redis-server, herald-sim and a scripted platform): fields only Herald
// sets are refused on submission; a retracted alert never comes back through a correction; a
// platform answering in GBK leaves every JSON answer valid UTF-8; a drill is withheld or marked.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "core/item.h"
#include "tests/adapters/scripted_http_server.h"
#include "tests/support/herald_processes.h"
#include "tests/support/redis_server.h"

using namespace herald;
using namespace herald::test;
using nlohmann::json;

namespace {

constexpr auto kWait = std::chrono::seconds(45);
constexpr auto kPoll = std::chrono::milliseconds(50);

struct Fixture {
  SimHandle sim = start_sim();
  std::string dir = make_temp_dir("trust");
  HeralddHandle daemon;

  // `adjust` changes the config before heraldd starts.
  explicit Fixture(const std::function<void(json&)>& adjust = {}) {
    json config = test_config(unique_key_prefix("trust"), sim.url);
    config["channels"]["weibo"] = {{"api_base", sim.url},
                                   {"access_token", "weibo-sim-token"},
                                   {"safe_domain", "www.scfao.gov.cn"},
                                   {"rip", "127.0.0.1"}};
    if (adjust) adjust(config);
    daemon = start_heraldd(config, dir);
  }

  HttpResponse post(const std::string& path, const json& body, const char* token = kDutyToken) {
    return http("POST", daemon.url + path, token, body.dump(),
                {{"Content-Type", "application/json"}});
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
  // Polls the item until `done` holds for it; fails with the item and the log otherwise.
  json wait_for(const std::string& id, const std::function<bool(const json&)>& done) {
    json item;
    const bool reached = wait_until(
        [&] {
          item = get(id);
          return done(item);
        },
        kWait, kPoll);
    INFO(item.dump(2) << "\nheraldd log: " << read_file(daemon.log_path));
    REQUIRE(reached);
    return item;
  }
  std::string published_alert() {
    const std::string id = submit(sample_alert());
    approve_twice(daemon.url, id);
    wait_for(id, [](const json& item) { return item.value("state", "") == "published"; });
    return id;
  }
};

void expect_error(const HttpResponse& r, long status, const std::string& code,
                  const std::string& field = "") {
  INFO(r.body);
  CHECK(r.status == status);
  const json error = json_of(r).at("error");
  CHECK(error.at("code") == code);
  if (!field.empty()) CHECK(error.value("field", "") == field);
}

std::vector<std::string> events_of(const json& audit) {
  std::vector<std::string> out;
  for (const auto& e : audit.at("events")) out.push_back(e.value("event", ""));
  return out;
}

}  // namespace

TEST_CASE("fields only Herald sets are refused on POST /v1/items", "[api][trust]") {
  Fixture f;
  const std::string original = f.published_alert();

  SECTION("corrects: a correction goes through /corrections and its checks") {
    json item = sample_alert();
    item["corrects"] = original;
    auto r = f.post("/v1/items", item);
    expect_error(r, 422, "validation_failed", "corrects");
    CHECK(json_of(r)["error"]["message"].get<std::string>().find(
              "POST /v1/items/{id}/corrections") != std::string::npos);
    // Nothing was stored: the original is still the only item.
    auto list = json_of(http("GET", f.daemon.url + "/v1/items", kAdminToken));
    CHECK(list.at("items").size() == 1);
  }
  SECTION("identity, authorship and review") {
    for (const char* field : {"id", "author", "created_at", "state", "approvals", "deliveries"}) {
      json item = sample_alert();
      item[field] = field == std::string("approvals") || field == std::string("deliveries")
                        ? json::array()
                        : json("01m8ks85kmf3g8d08sexpmwvhe");
      expect_error(f.post("/v1/items", item), 422, "validation_failed", field);
    }
  }
}

TEST_CASE("a retracted alert never comes back through a correction", "[api][trust][recall]") {
  Fixture f;
  const std::string original = f.published_alert();
  auto created =
      f.post("/v1/items/" + original + "/corrections", {{"title", "更正：泰国南部三府"}});
  INFO(created.body);
  REQUIRE(created.status == 201);
  const std::string correction = json_of(created).at("id");
  REQUIRE(review(f.daemon.url, correction, kReviewerToken).status == 201);

  auto r = f.post("/v1/items/" + original + "/retract", {{"reason", "情况已变化，撤回提醒"}});
  INFO(r.body);
  REQUIRE(r.status == 202);
  CHECK(json_of(r).at("withdrawn_corrections") == json::array({correction}));

  const json item = f.get(correction);
  CHECK(item.at("state") == "withdrawn");
  CHECK(item.at("deliveries").empty());
  const json audit =
      json_of(http("GET", f.daemon.url + "/v1/items/" + correction + "/audit", kAdminToken));
  const auto events = events_of(audit);
  REQUIRE_FALSE(events.empty());
  CHECK(events.back() == "withdrawn");
  CHECK(audit["events"].back().dump().find("情况已变化") != std::string::npos);

  // The second approval comes too late, and no new correction is taken.
  expect_error(review(f.daemon.url, correction, kReviewer2Token), 409, "not_pending");
  expect_error(f.post("/v1/items/" + original + "/corrections", {{"title", "再更正"}}), 409,
               "not_correctable");
  CHECK(f.get(correction).at("deliveries").empty());
}

TEST_CASE("a platform answering in GBK leaves every JSON answer valid UTF-8", "[api][trust]") {
  // "中文" in GBK, then more: never valid UTF-8.
  const std::string gbk = "\xd6\xd0\xce\xc4 \xb4\xed\xce\xf3";
  ScriptedHttpServer platform([&](const ScriptedRequest&) {
    return ScriptedResponse{400, {{"Content-Type", "text/plain; charset=gbk"}}, gbk};
  });
  Fixture f([&](json& config) { config["channels"]["webhook"]["url"] = platform.url() + "/hook"; });
  const std::string id = f.submit(sample_alert());
  approve_twice(f.daemon.url, id);
  f.wait_for(id, [](const json& item) {
    return item.at("deliveries").size() == 1 && item["deliveries"][0].value("state", "") == "dead";
  });

  for (const std::string& path :
       {std::string("/v1/deliveries/dead"), "/v1/items/" + id, "/v1/items/" + id + "/audit"}) {
    auto r = http("GET", f.daemon.url + path, kAdminToken);
    INFO(path << ": " << r.body);
    CHECK(r.status == 200);
    CHECK(is_valid_utf8(r.body));
    CHECK_NOTHROW(json::parse(r.body));
  }
  const json dead = json_of(http("GET", f.daemon.url + "/v1/deliveries/dead", kAdminToken));
  REQUIRE(dead.at("deliveries").size() == 1);
  const std::string message = dead["deliveries"][0]["last_error"]["message"];
  CHECK(message.find("HTTP 400") != std::string::npos);
  CHECK(message.find("\xEF\xBF\xBD") != std::string::npos);  // U+FFFD for what was not UTF-8
}

TEST_CASE("a drill is withheld where channels say so, and marked 【演练】 where they do not",
          "[api][trust][drills]") {
  Fixture f([](json& config) { config["channels"]["weibo"]["drills"] = "marked"; });
  json drill = sample_alert();
  drill["status"] = "exercise";

  SECTION("marked on Weibo, withheld on the webhook (the default)") {
    drill["channels"] = {"weibo", "webhook"};
    const std::string id = f.submit(drill);
    approve_twice(f.daemon.url, id);
    const json item =
        f.wait_for(id, [](const json& i) { return i.value("state", "") == "published"; });
    REQUIRE(item.at("deliveries").size() == 1);
    CHECK(item["deliveries"][0].at("channel") == "weibo");
    const json weibo = sim_published(f.sim.url, "weibo");
    REQUIRE(weibo.at("items").size() == 1);
    CHECK_THAT(weibo["items"][0].at("text").get<std::string>(),
               Catch::StartsWith("【演练】【海外安全提醒】"));
    CHECK(sim_published(f.sim.url, "webhook").at("items").empty());
    const json audit =
        json_of(http("GET", f.daemon.url + "/v1/items/" + id + "/audit", kAdminToken));
    bool withheld = false;
    for (const auto& e : audit.at("events")) {
      if (e.value("event", "") == "drill_withheld") {
        withheld = true;
        CHECK(e.dump().find("webhook") != std::string::npos);
      }
    }
    CHECK(withheld);
  }
  SECTION("withheld everywhere: final at once, nothing sent") {
    drill["channels"] = {"webhook"};
    const std::string id = f.submit(drill);
    approve_twice(f.daemon.url, id);
    const json item =
        f.wait_for(id, [](const json& i) { return i.value("state", "") == "withheld"; });
    CHECK(item.at("deliveries").empty());
    CHECK(sim_published(f.sim.url, "webhook").at("items").empty());
  }
}
