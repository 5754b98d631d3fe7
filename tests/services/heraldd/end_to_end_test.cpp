// Issue 3's end-to-end check: one alert, approved by two reviewers, reaches Weibo, WeChat, the
// provincial portal and the media channel (feeds, CAP, WebSub, e-mail, webhook) of one herald-sim,
// each exactly once, and is served in the CAP feed by heraldd.
#include <catch2/catch.hpp>

#include "tests/support/herald_processes.h"
#include "tests/support/process.h"
#include "tests/support/redis_server.h"

using namespace herald::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPortalKey = "e2e-portal-key";

json four_channel_config(const std::string& sim_url, int smtp_port) {
  json config = test_config(unique_key_prefix("e2e"), sim_url);
  config["channels"]["weibo"] = {{"api_base", sim_url},
                                 {"access_token", "weibo-sim-token"},
                                 {"safe_domain", "www.scfao.gov.cn"},
                                 {"rip", "127.0.0.1"}};
  config["channels"]["wechat"] = {{"api_base", sim_url},
                                  {"appid", "wx5e1a1d0000000001"},
                                  {"secret", "wechat-sim-secret"},
                                  {"mode", "auto"}};
  config["channels"]["portal"] = {{"url", sim_url},
                                  {"hmac_key", kPortalKey},
                                  {"app_id", "herald-e2e"},
                                  {"org_code", "11510000MB0000000X"},
                                  {"column", "zwdt"}};
  config["channels"]["media"] = {
      {"public_base_url", "https://www.example.gov.cn"},
      {"author", "XX省人民政府外事办公室"},
      {"feeds", {{{"name", "news"}, {"title", "新闻"}}}},
      {"websub", {{"hub", sim_url + "/websub/hub"}}},
      {"smtp",
       {{"url", "smtp://127.0.0.1:" + std::to_string(smtp_port)},
        {"from", "herald@example.gov.cn"},
        {"to", {"newsdesk@media.example", "radio@media.example"}}}},
      {"webhooks", {{{"url", sim_url + "/hooks/media-desk"}, {"secret", "test-secret"}}}}};
  return config;
}

}  // namespace

TEST_CASE("one alert reaches all four channels exactly once and the CAP feed", "[heraldd][e2e]") {
  const std::string dir = make_temp_dir("e2e");
  SimHandle sim = start_sim_with_smtp({"--portal-key", kPortalKey});
  HeralddHandle daemon = start_heraldd(four_channel_config(sim.url, sim.smtp_port), dir);

  json alert = sample_alert();
  alert["channels"] = {"weibo", "wechat", "portal", "media"};
  auto submitted = http("POST", daemon.url + "/v1/items", kDutyToken, alert.dump(),
                        {{"Content-Type", "application/json"}});
  INFO(submitted.body);
  REQUIRE(submitted.status == 201);
  const std::string id = json_of(submitted).at("id");
  approve_twice(daemon.url, id);

  json item;
  const bool published = wait_until(
      [&] {
        item = json_of(http("GET", daemon.url + "/v1/items/" + id, kDutyToken));
        return item.value("state", "") == "published";
      },
      30s, 50ms);
  INFO(item.dump(2));
  INFO(read_file(daemon.log_path));
  REQUIRE(published);
  REQUIRE(item.at("deliveries").size() == 4);
  for (const auto& d : item.at("deliveries")) {
    INFO(d.dump());
    CHECK(d.at("state") == "published");
    CHECK_FALSE(d.at("remote_id").get<std::string>().empty());
  }

  // Every platform received it once; the media pushes went out once each.
  for (const char* platform : {"weibo", "wechat", "portal", "websub", "webhook"}) {
    INFO(platform);
    CHECK(sim_published(sim.url, platform).at("count") == 1);
  }
  const json mail = sim_published(sim.url, "smtp");
  INFO(mail.dump(2));
  CHECK(mail.at("count") == 1);
  CHECK(mail.dump().find("newsdesk@media.example") != std::string::npos);
  CHECK(mail.dump().find("radio@media.example") != std::string::npos);

  // The CAP feed links the alert, and its CAP document says what it is.
  const auto feed = http("GET", daemon.public_url + "/feeds/alerts.cap.atom");
  REQUIRE(feed.status == 200);
  CHECK(feed.body.find("/feeds/cap/" + id + ".xml") != std::string::npos);
  const auto cap = http("GET", daemon.public_url + "/feeds/cap/" + id + ".xml");
  REQUIRE(cap.status == 200);
  CHECK(cap.body.find("<identifier>" + id + "</identifier>") != std::string::npos);
  CHECK(cap.body.find("<msgType>Alert</msgType>") != std::string::npos);
  CHECK(cap.body.find("<language>zh-CN</language>") != std::string::npos);
}
