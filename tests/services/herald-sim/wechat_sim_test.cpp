// herald-sim's WeChat as a process, spoken to with raw JSON and multipart posts (no Herald adapter
// code), checked against channel-apis.md §2 and §5A: HTTP 200 with errcode, the token and
// stable_token lifecycles, material and uploadimg uploads, drafts, publishing that the platform
// finishes on its own, the read-back lists (draft/batchget, freepublish/batchget, getarticle),
// mass sends with clientmsgid dedup and mass/get, quotas, the delete endpoints, and faults in
// WeChat's own format.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>
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
    configure(sim.url, {{"wechat_publish_delay_ms", 400}});
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
    json done;
    CHECK(herald::test::wait_until(
        [&] {
          done = api(sim.url, "freepublish/get", token, {{"publish_id", publish_id}});
          return done.at("publish_status") == 0;
        },
        10s, 50ms));
    const std::string article_id = done.at("article_id");
    CHECK(done.at("article_detail").at("count") == 1);
    json published = sim_published(sim.url, "wechat");
    REQUIRE(published.at("count") == 1);
    CHECK(published.at("items")[0].at("id") == article_id);
    CHECK(published.at("items")[0].at("article_id") == article_id);
    CHECK(published.at("items")[0].at("title") == "标题");

    CHECK(errcode(api(sim.url, "freepublish/delete", token, {{"article_id", article_id}})) == 0);
    CHECK(sim_published(sim.url, "wechat").at("items")[0].at("deleted") == true);
    CHECK(errcode(api(sim.url, "freepublish/delete", token, {{"article_id", article_id}})) ==
          53600);
    CHECK(errcode(api(sim.url, "freepublish/get", token, {{"publish_id", "42"}})) == 53502);
  }

  SECTION("a failed publication ends in its status with fail_idx") {
    configure(sim.url, {{"wechat_publish_delay_ms", 0}, {"wechat_publish_fail_next", 2}});
    const json draft = api(sim.url, "draft/add", token, article(thumb));
    const json submitted =
        api(sim.url, "freepublish/submit", token, {{"media_id", draft["media_id"]}});
    const json status =
        api(sim.url, "freepublish/get", token, {{"publish_id", submitted["publish_id"]}});
    CHECK(status.at("publish_status") == 2);
    CHECK(status.at("fail_idx") == json::array({1}));
    CHECK(sim_published(sim.url, "wechat").at("count") == 0);
  }

  SECTION("media/uploadimg answers a URL for jpg/png under 1 MB, not a material") {
    auto upload_img = [&](const std::string& data, const std::string& field = "media") {
      const std::string boundary = "b0undary";
      const std::string body = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" +
                               field + "\"; filename=\"i.png\"\r\nContent-Type: image/png\r\n\r\n" +
                               data + "\r\n--" + boundary + "--\r\n";
      auto response = http("POST", sim.url + "/cgi-bin/media/uploadimg?access_token=" + token, "",
                           body, {{"Content-Type", "multipart/form-data; boundary=" + boundary}});
      REQUIRE(response.status == 200);
      return json_of(response);
    };
    const json uploaded = upload_img(kPng);
    CHECK_THAT(uploaded.at("url").get<std::string>(), Catch::StartsWith("http://mmbiz.qpic.cn/"));
    CHECK(errcode(upload_img("GIF89a...")) == 40005);
    CHECK(errcode(upload_img(kPng, "file")) == 41005);
    CHECK(errcode(upload_img(kPng + std::string(1 << 20, 'x'))) == 40009);
    CHECK(sim_published(sim.url, "wechat").at("materials").size() == 1);  // the thumb only
  }

  SECTION("article content keeps uploadimg images and loses foreign ones") {
    json body = article(thumb);
    body["articles"][0]["content"] =
        R"(<p>a<img src="http://mmbiz.qpic.cn/mmbiz_png/x/0">b<img src="https://evil.example/x.png">c</p>)";
    configure(sim.url, {{"wechat_publish_delay_ms", 0}});
    const json draft = api(sim.url, "draft/add", token, body);
    REQUIRE(errcode(api(sim.url, "freepublish/submit", token, {{"media_id", draft["media_id"]}})) ==
            0);
    const json published = sim_published(sim.url, "wechat");
    REQUIRE(published.at("count") == 1);
    CHECK(published.at("items")[0].at("content") ==
          R"(<p>a<img src="http://mmbiz.qpic.cn/mmbiz_png/x/0">bc</p>)");
  }

  SECTION("the daily quota of an API answers 45009 once spent") {
    configure(sim.url, {{"wechat_daily_quota", {{"freepublish/get", 1}}}});
    CHECK(errcode(api(sim.url, "freepublish/get", token, {{"publish_id", "1"}})) == 53502);
    CHECK(errcode(api(sim.url, "freepublish/get", token, {{"publish_id", "1"}})) == 45009);
  }
}

TEST_CASE("herald-sim's WeChat publishes a submitted draft on its own, polled or not",
          "[herald_sim][wechat]") {
  auto sim = start_sim();
  const std::string token = token_of(sim.url);
  const std::string thumb = upload(sim.url, token, "image", kPng).at("media_id");
  auto draft_box = [&] {
    return api(sim.url, "draft/batchget", token, {{"offset", 0}, {"count", 20}, {"no_content", 0}});
  };
  auto published_list = [&](int no_content = 0) {
    return api(sim.url, "freepublish/batchget", token,
               {{"offset", 0}, {"count", 20}, {"no_content", no_content}});
  };
  auto add_draft = [&](const std::string& title) {
    json body = article(thumb, title);
    body["articles"][0]["content_source_url"] = "https://www.example.gov.cn/a/" + title;
    const json draft = api(sim.url, "draft/add", token, body);
    REQUIRE(draft.contains("media_id"));
    return draft.at("media_id").get<std::string>();
  };

  SECTION("the draft box and the published list, newest first") {
    configure(sim.url, {{"wechat_publish_delay_ms", 300}});
    const std::string first = add_draft("一");
    const std::string second = add_draft("二");
    json box = draft_box();
    CHECK(box.at("total_count") == 2);
    CHECK(box.at("item_count") == 2);
    CHECK(box.at("item")[0].at("media_id") == second);
    CHECK(box.at("item")[0].at("content").at("news_item")[0].at("title") == "二");
    CHECK(box.at("item")[0].at("update_time").is_number_integer());

    REQUIRE(errcode(api(sim.url, "freepublish/submit", token, {{"media_id", first}})) == 0);
    REQUIRE(errcode(api(sim.url, "freepublish/submit", token, {{"media_id", second}})) == 0);
    // Consumed drafts leave the box at once; nothing is published yet.
    CHECK(draft_box().at("total_count") == 0);
    CHECK(published_list().at("total_count") == 0);
    // Nobody polls freepublish/get: the platform publishes anyway.
    CHECK(herald::test::wait_until([&] { return published_list().at("total_count") == 2; }, 10s,
                                   50ms));
    const json list = published_list();
    CHECK(list.at("item_count") == 2);
    const json& newest = list.at("item")[0];
    CHECK(newest.at("content").at("news_item")[0].at("title") == "二");
    CHECK(newest.at("content").at("news_item")[0].at("content_source_url") ==
          "https://www.example.gov.cn/a/二");
    CHECK(newest.at("content").at("news_item")[0].contains("content"));
    CHECK_FALSE(
        published_list(1).at("item")[0].at("content").at("news_item")[0].contains("content"));
    const std::string article_id = newest.at("article_id");
    const json got = api(sim.url, "freepublish/getarticle", token, {{"article_id", article_id}});
    CHECK(got.at("news_item")[0].at("title") == "二");
    CHECK(got.at("news_item")[0].at("is_deleted") == false);
    CHECK(errcode(api(sim.url, "freepublish/getarticle", token, {{"article_id", "nope"}})) ==
          53600);
    // The truth, for chaos tests.
    const json truth = sim_published(sim.url, "wechat");
    REQUIRE(truth.at("count") == 2);
    CHECK(truth.at("items")[1].at("article_id") == article_id);
    CHECK(truth.at("items")[1].at("content_source_url") == "https://www.example.gov.cn/a/二");
    // Re-submitting a consumed draft is 40007.
    CHECK(errcode(api(sim.url, "freepublish/submit", token, {{"media_id", first}})) == 40007);
  }

  SECTION("/_sim/published shows an unpolled article once its delay has passed") {
    configure(sim.url, {{"wechat_publish_delay_ms", 200}});
    REQUIRE(errcode(api(sim.url, "freepublish/submit", token, {{"media_id", add_draft("三")}})) ==
            0);
    CHECK(herald::test::wait_until(
        [&] { return sim_published(sim.url, "wechat").at("count") == 1; }, 10s, 50ms));
  }

  SECTION("a delay longer than any retry budget keeps answering publishing") {
    configure(sim.url, {{"wechat_publish_delay_ms", 600000}});
    const json submitted =
        api(sim.url, "freepublish/submit", token, {{"media_id", add_draft("四")}});
    for (int i = 0; i < 3; ++i) {
      CHECK(api(sim.url, "freepublish/get", token, {{"publish_id", submitted["publish_id"]}})
                .at("publish_status") == 1);
    }
    CHECK(sim_published(sim.url, "wechat").at("jobs")[0].at("publish_status") == 1);
  }

  SECTION("batchget takes count 1..20") {
    CHECK(errcode(api(sim.url, "freepublish/batchget", token, {{"offset", 0}, {"count", 21}})) ==
          40097);
    CHECK(errcode(api(sim.url, "draft/batchget", token, {{"offset", 0}, {"count", 0}})) == 40097);
  }

  SECTION("late: submit is carried out, the answer comes after the client gave up") {
    configure(sim.url, {{"wechat_publish_delay_ms", 0}});
    const std::string media_id = add_draft("五");
    REQUIRE(http("POST", sim.url + "/_sim/faults", "", "wechat:late=1,stall_ms=3000").status ==
            200);
    herald::HttpClient client;
    auto result = client.send({"POST",
                               sim.url + "/cgi-bin/freepublish/submit?access_token=" + token,
                               {{"Content-Type", "application/json"}},
                               json{{"media_id", media_id}}.dump(),
                               500ms,
                               500ms});
    CHECK_FALSE(result.ok());
    REQUIRE(http("POST", sim.url + "/_sim/faults", "", "").status == 200);
    CHECK(draft_box().at("total_count") == 0);
    CHECK(published_list().at("total_count") == 1);
    CHECK(sim_published(sim.url, "wechat").at("items")[0].at("title") == "五");
  }
}

TEST_CASE("herald-sim's /cgi-bin/token mints a new token on every call", "[herald_sim][wechat]") {
  auto sim = start_sim();
  auto get_token = [&](const std::string& query) {
    auto response = http("GET", sim.url + "/cgi-bin/token?" + query);
    INFO(response.body);
    REQUIRE(response.status == 200);
    return json_of(response);
  };
  const std::string good =
      std::string("grant_type=client_credential&appid=") + kAppId + "&secret=" + kSecret;
  configure(sim.url, {{"wechat_grace_ms", 500}});
  const json first = get_token(good);
  REQUIRE(first.at("access_token").is_string());
  CHECK(first.at("expires_in").get<long>() > 7000);
  CHECK(first.at("expires_in").get<long>() <= 7200);
  const std::string old_token = first.at("access_token");
  const std::string new_token = get_token(good).at("access_token");
  CHECK(new_token != old_token);
  const json probe = {{"publish_id", "1"}};
  // Both work during the overlap, then the old one is 40001.
  CHECK(errcode(api(sim.url, "freepublish/get", old_token, probe)) == 53502);
  CHECK(errcode(api(sim.url, "freepublish/get", new_token, probe)) == 53502);
  CHECK(herald::test::wait_until(
      [&] { return errcode(api(sim.url, "freepublish/get", old_token, probe)) == 40001; }, 10s));
  CHECK(errcode(api(sim.url, "freepublish/get", new_token, probe)) == 53502);
  // stable_token is a separate lineage (§2.2 "完全隔离"): /token does not kick it out.
  const std::string stable = token_of(sim.url);
  get_token(good);
  CHECK(token_of(sim.url) == stable);
  CHECK(sim_published(sim.url, "wechat").at("token_fetches") == 5);

  CHECK(errcode(get_token(std::string("grant_type=client_credential&appid=wx0&secret=") +
                          kSecret)) == 40013);
  CHECK(errcode(get_token(std::string("grant_type=client_credential&appid=") + kAppId +
                          "&secret=wrong")) == 40001);
  CHECK(errcode(get_token(std::string("grant_type=password&appid=") + kAppId +
                          "&secret=" + kSecret)) == 40002);
  configure(sim.url, {{"wechat_daily_quota", {{"token", 0}}}});
  CHECK(errcode(get_token(good)) == 45009);
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

  const json status = api(sim.url, "message/mass/get", token, {{"msg_id", first["msg_id"]}});
  CHECK(status.at("msg_id") == first.at("msg_id"));
  CHECK(status.at("msg_status") == "SEND_SUCCESS");
  CHECK(errcode(api(sim.url, "message/mass/get", token, {{"msg_id", 1}})) == 47001);

  CHECK(errcode(api(sim.url, "message/mass/delete", token, {{"msg_id", first["msg_id"]}})) == 0);
  CHECK(sim_published(sim.url, "wechat").at("items")[0].at("deleted") == true);
  CHECK(api(sim.url, "message/mass/get", token, {{"msg_id", first["msg_id"]}}).at("msg_status") ==
        "DELETE");

  SECTION("next_errors and faults answer in WeChat's format") {
    configure(sim.url, {{"wechat_next_errors", {45066}}});
    CHECK(errcode(send("herald-d.wechat")) == 45066);
    REQUIRE(http("POST", sim.url + "/_sim/faults", "", "wechat:fail_next=1").status == 200);
    CHECK(errcode(send("herald-d.wechat")) == -1);
  }

  SECTION("quota faults answer 45009 or 45011 with HTTP 200 and send nothing") {
    REQUIRE(http("POST", sim.url + "/_sim/faults", "", "wechat:quota=1").status == 200);
    std::set<long> codes;
    for (int i = 0; i < 16; ++i) codes.insert(errcode(send("herald-q" + std::to_string(i))));
    CHECK(codes == std::set<long>{45009, 45011});
    CHECK(sim_published(sim.url, "wechat").at("count") == 1);
  }

  SECTION("reset forgets sends and tokens") {
    REQUIRE(http("POST", sim.url + "/_sim/reset").status == 200);
    published = sim_published(sim.url, "wechat");
    CHECK(published.at("count") == 0);
    CHECK(published.at("token_fetches") == 0);
    CHECK(errcode(send("herald-a.wechat")) == 40014);
  }
}
