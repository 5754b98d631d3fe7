// herald-sim's WeChat as a process, spoken to with raw JSON and multipart posts (no Herald adapter
// code), checked against channel-apis.md §2: HTTP 200 with errcode, the stable_token lifecycle,
// material upload, drafts, asynchronous publishing, mass sends with clientmsgid dedup, quotas,
// the delete endpoints, and faults in WeChat's own error format.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "adapters/http_client.h"
#include "tests/support/herald_processes.h"
#include "tests/support/process.h"

using herald::test::http;
using herald::test::json_of;
using herald::test::sim_published;
using herald::test::start_sim;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kAppId = "wx5e1a1d0000000001";  // the sim's defaults
constexpr const char* kSecret = "wechat-sim-secret";
// A 1×1 PNG.
constexpr unsigned char kPngBytes[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00,
    0x00, 0x90, 0x77, 0x53, 0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78,
    0x9c, 0x63, 0xd8, 0x22, 0x27, 0x07, 0x00, 0x02, 0x7a, 0x00, 0xf1, 0xbb, 0x61, 0x9b,
    0xc2, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
const std::string kPng(reinterpret_cast<const char*>(kPngBytes), sizeof kPngBytes);

json post_json(const std::string& url, const json& body) {
  auto response = http("POST", url, "", body.dump(), {{"Content-Type", "application/json"}});
  INFO(response.body);
  REQUIRE(response.status == 200);  // WeChat answers errors with 200 too
  return json_of(response);
}

json stable_token(const std::string& sim, bool force = false, const std::string& secret = kSecret) {
  return post_json(sim + "/cgi-bin/stable_token", {{"grant_type", "client_credential"},
                                                   {"appid", kAppId},
                                                   {"secret", secret},
                                                   {"force_refresh", force}});
}

std::string token_of(const std::string& sim) {
  const json answer = stable_token(sim);
  REQUIRE(answer.contains("access_token"));
  return answer.at("access_token");
}

json api(const std::string& sim, const std::string& path, const std::string& token,
         const json& body) {
  return post_json(sim + "/cgi-bin/" + path + "?access_token=" + token, body);
}

long errcode(const json& answer) {
  return answer.value("errcode", 0L);
}

json upload(const std::string& sim, const std::string& token, const std::string& type,
            const std::string& data, const std::string& field = "media") {
  const std::string boundary = "XyZ123boundary";
  const std::string body = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + field +
                           "\"; filename=\"c.png\"\r\nContent-Type: image/png\r\n\r\n" + data +
                           "\r\n--" + boundary + "--\r\n";
  auto response =
      http("POST", sim + "/cgi-bin/material/add_material?access_token=" + token + "&type=" + type,
           "", body, {{"Content-Type", "multipart/form-data; boundary=" + boundary}});
  REQUIRE(response.status == 200);
  return json_of(response);
}

void configure(const std::string& url, const json& config) {
  auto response =
      http("POST", url + "/_sim/config", "", config.dump(), {{"Content-Type", "application/json"}});
  INFO(response.body);
  REQUIRE(response.status == 200);
}

json article(const std::string& thumb, const std::string& title = "标题") {
  return {{"articles", json::array({{{"article_type", "news"},
                                     {"title", title},
                                     {"author", "外事办"},
                                     {"digest", "摘要"},
                                     {"content", "<p>正文</p>"},
                                     {"thumb_media_id", thumb}}})}};
}

}  // namespace

TEST_CASE("herald-sim's stable_token hands out one token until it expires or is forced",
          "[herald_sim][wechat]") {
  auto sim = start_sim();
  const json first = stable_token(sim.url);
  REQUIRE(first.at("access_token").is_string());
  CHECK(first.at("access_token").get<std::string>().size() >= 100);
  CHECK(first.at("expires_in").get<long>() > 7000);
  CHECK(first.at("expires_in").get<long>() <= 7200);
  const std::string token = first.at("access_token");
  CHECK(stable_token(sim.url).at("access_token") == token);
  CHECK(sim_published(sim.url, "wechat").at("token_fetches") == 2);

  SECTION("wrong credentials are errcodes with HTTP 200") {
    CHECK(errcode(stable_token(sim.url, false, "wrong")) == 40125);
    auto bad_appid =
        post_json(sim.url + "/cgi-bin/stable_token",
                  {{"grant_type", "client_credential"}, {"appid", "wx0"}, {"secret", kSecret}});
    CHECK(errcode(bad_appid) == 40013);
    auto bad_grant =
        post_json(sim.url + "/cgi-bin/stable_token",
                  {{"grant_type", "password"}, {"appid", kAppId}, {"secret", kSecret}});
    CHECK(errcode(bad_grant) == 40002);
    CHECK_THAT(bad_grant.at("errmsg").get<std::string>(), Catch::Contains("rid: "));
  }

  SECTION(
      "a forced refresh mints a new token; the old one works for the grace period, then 40001") {
    configure(sim.url, {{"wechat_grace_ms", 300}});
    const json forced = stable_token(sim.url, true);
    const std::string fresh = forced.at("access_token");
    CHECK(fresh != token);
    CHECK(sim_published(sim.url, "wechat").at("forced_refreshes") == 1);
    // Within 30 s a second force changes nothing ("否则不会刷新").
    CHECK(stable_token(sim.url, true).at("access_token") == fresh);
    const json body = {{"publish_id", "1"}};
    CHECK(errcode(api(sim.url, "freepublish/get", fresh, body)) == 53502);
    CHECK(herald::test::wait_until(
        [&] { return errcode(api(sim.url, "freepublish/get", token, body)) == 40001; }, 10s));
  }

  SECTION("an expired token is 42001, and the next stable_token gives a new one") {
    configure(sim.url, {{"wechat_token_ttl_ms", 200}});
    const std::string short_lived = stable_token(sim.url, true).at("access_token");
    CHECK(herald::test::wait_until(
        [&] {
          return errcode(api(sim.url, "freepublish/get", short_lived, {{"publish_id", "1"}})) ==
                 42001;
        },
        10s));
    const json renewed = stable_token(sim.url);
    CHECK(renewed.at("access_token") != short_lived);
  }

  SECTION("missing and unknown tokens") {
    CHECK(errcode(api(sim.url, "draft/add", "", article("x"))) == 41001);
    CHECK(errcode(api(sim.url, "draft/add", "garbage", article("x"))) == 40014);
  }

  SECTION("GET is refused") {
    auto response = http("GET", sim.url + "/cgi-bin/draft/add?access_token=" + token);
    CHECK(response.status == 200);
    CHECK(errcode(json_of(response)) == 43002);
  }
}

TEST_CASE("herald-sim's WeChat uploads, drafts and publishes asynchronously",
          "[herald_sim][wechat]") {
  auto sim = start_sim();
  const std::string token = token_of(sim.url);

  SECTION("material/add_material checks the type and the media part") {
    CHECK(errcode(upload(sim.url, token, "sticker", kPng)) == 40004);
    CHECK(errcode(upload(sim.url, token, "image", kPng, "file")) == 41005);
    CHECK(errcode(upload(sim.url, token, "image", "not an image")) == 40005);
    CHECK(errcode(upload(sim.url, token, "thumb", kPng)) == 40005);  // thumb must be JPEG
  }

  const json material = upload(sim.url, token, "image", kPng);
  REQUIRE(material.contains("media_id"));
  CHECK_THAT(material.at("url").get<std::string>(), Catch::StartsWith("http://mmbiz.qpic.cn/"));
  const std::string thumb = material.at("media_id");

  SECTION("draft/add checks limits and the thumb") {
    CHECK(errcode(api(sim.url, "draft/add", token, article("unknown"))) == 40007);
    CHECK(errcode(api(sim.url, "draft/add", token, article(thumb, std::string(33, 'x')))) == 45003);
    CHECK(errcode(api(sim.url, "draft/add", token, {{"articles", "x"}})) == 47001);
  }

  SECTION("submit, get (publishing, then published), delete") {
    const json draft = api(sim.url, "draft/add", token, article(thumb));
    REQUIRE(draft.contains("media_id"));
    const json submitted =
        api(sim.url, "freepublish/submit", token, {{"media_id", draft["media_id"]}});
    REQUIRE(errcode(submitted) == 0);
    REQUIRE(submitted.at("publish_id").is_number_integer());
    CHECK(submitted.at("publish_id").get<long long>() > (1LL << 31));
    // The draft left the box.
    CHECK(errcode(api(sim.url, "freepublish/submit", token, {{"media_id", draft["media_id"]}})) ==
          40007);
    const std::string publish_id = std::to_string(submitted.at("publish_id").get<long long>());
    const json publishing = api(sim.url, "freepublish/get", token, {{"publish_id", publish_id}});
    CHECK(publishing.at("publish_status") == 1);
    CHECK(sim_published(sim.url, "wechat").at("count") == 0);
    const json done = api(sim.url, "freepublish/get", token, {{"publish_id", publish_id}});
    CHECK(done.at("publish_status") == 0);
    const std::string article_id = done.at("article_id");
    CHECK(done.at("article_detail").at("count") == 1);
    json published = sim_published(sim.url, "wechat");
    REQUIRE(published.at("count") == 1);
    CHECK(published.at("items")[0].at("id") == article_id);
    CHECK(published.at("items")[0].at("title") == "标题");

    CHECK(errcode(api(sim.url, "freepublish/delete", token, {{"article_id", article_id}})) == 0);
    CHECK(sim_published(sim.url, "wechat").at("items")[0].at("deleted") == true);
    CHECK(errcode(api(sim.url, "freepublish/delete", token, {{"article_id", article_id}})) ==
          53600);
    CHECK(errcode(api(sim.url, "freepublish/get", token, {{"publish_id", "42"}})) == 53502);
  }

  SECTION("a failed publication ends in its status with fail_idx") {
    configure(sim.url, {{"wechat_publish_polls", 0}, {"wechat_publish_fail_next", 2}});
    const json draft = api(sim.url, "draft/add", token, article(thumb));
    const json submitted =
        api(sim.url, "freepublish/submit", token, {{"media_id", draft["media_id"]}});
    const json status =
        api(sim.url, "freepublish/get", token, {{"publish_id", submitted["publish_id"]}});
    CHECK(status.at("publish_status") == 2);
    CHECK(status.at("fail_idx") == json::array({1}));
    CHECK(sim_published(sim.url, "wechat").at("count") == 0);
  }

  SECTION("the daily quota of an API answers 45009 once spent") {
    configure(sim.url, {{"wechat_daily_quota", {{"freepublish/get", 1}}}});
    CHECK(errcode(api(sim.url, "freepublish/get", token, {{"publish_id", "1"}})) == 53502);
    CHECK(errcode(api(sim.url, "freepublish/get", token, {{"publish_id", "1"}})) == 45009);
  }
}

TEST_CASE("herald-sim's WeChat mass sends dedup by clientmsgid and honour the quota",
          "[herald_sim][wechat]") {
  auto sim = start_sim();
  const std::string token = token_of(sim.url);
  auto send = [&](const std::string& client_msg_id, const std::string& content = "【提醒】注意") {
    return api(sim.url, "message/mass/sendall", token,
               {{"filter", {{"is_to_all", true}}},
                {"msgtype", "text"},
                {"text", {{"content", content}}},
                {"clientmsgid", client_msg_id}});
  };
  const json first = send("herald-a.wechat");
  REQUIRE(errcode(first) == 0);
  CHECK(first.at("errmsg") == "send job submission success");
  REQUIRE(first.at("msg_id").is_number_integer());

  const json again = send("herald-a.wechat");
  CHECK(errcode(again) == 45065);
  CHECK(again.at("msg_id") == first.at("msg_id"));
  json published = sim_published(sim.url, "wechat");
  CHECK(published.at("count") == 1);
  CHECK(published.at("items")[0].at("content") == "【提醒】注意");
  CHECK(published.at("items")[0].at("clientmsgid") == "herald-a.wechat");

  CHECK(errcode(send(std::string(65, 'x'))) == 45067);
  configure(sim.url, {{"wechat_mass_max_chars", 3}});
  CHECK(errcode(send("herald-b.wechat")) == 45002);
  configure(sim.url, {{"wechat_mass_max_chars", 600}, {"wechat_mass_quota", 1}});
  CHECK(errcode(send("herald-c.wechat")) == 45028);

  CHECK(errcode(api(sim.url, "message/mass/delete", token, {{"msg_id", first["msg_id"]}})) == 0);
  CHECK(sim_published(sim.url, "wechat").at("items")[0].at("deleted") == true);

  SECTION("next_errors and faults answer in WeChat's format") {
    configure(sim.url, {{"wechat_next_errors", {45066}}});
    CHECK(errcode(send("herald-d.wechat")) == 45066);
    REQUIRE(http("POST", sim.url + "/_sim/faults", "", "wechat:fail_next=1").status == 200);
    CHECK(errcode(send("herald-d.wechat")) == -1);
  }

  SECTION("reset forgets sends and tokens") {
    REQUIRE(http("POST", sim.url + "/_sim/reset").status == 200);
    published = sim_published(sim.url, "wechat");
    CHECK(published.at("count") == 0);
    CHECK(published.at("token_fetches") == 0);
    CHECK(errcode(send("herald-a.wechat")) == 40014);
  }
}
