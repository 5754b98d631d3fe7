// Tests for adapters/wechat/: the errcode table of channel-apis.md §2.7 (written out here again, so
// a slip in the adapter's table cannot hide), the quota windows, rendering within WeChat's limits,
// the settings, and the channel end to end against the real herald-sim with the token shared in a
// real Redis: both modes, every error class with its outcome, quota deferral without spinning,
// token refresh, and recall.
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "adapters/wechat/wechat_channel.h"
#include "core/item.h"
#include "queue/redis.h"
#include "queue/redis_token_cache.h"
#include "tests/adapters/scripted_http_server.h"
#include "tests/adapters/settings_problems.h"
#include "tests/support/herald_processes.h"
#include "tests/support/redis_server.h"
#include "tests/support/test_time.h"

using herald::Delivery;
using herald::ErrorKind;
using herald::WechatChannel;
using herald::WechatMode;
using herald::WechatSettings;
using herald::test::time_at;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kAppId = "wx5e1a1d0000000001";  // herald-sim's default AppID and secret
constexpr const char* kSecret = "wechat-sim-secret";

WechatSettings settings_for(const std::string& api_base,
                            WechatMode mode = WechatMode::auto_select) {
  WechatSettings s;
  s.api_base = api_base;
  s.appid = kAppId;
  s.secret = kSecret;
  s.mode = mode;
  s.connect_timeout = 2000ms;
  s.timeout = 5000ms;
  s.author = "外事办";
  s.publish_poll = {50ms, 100ms};
  return s;
}

json item_json(const std::string& id, const std::string& title, const std::string& summary = "",
               const std::string& kind = "publication") {
  json item = {{"id", id},
               {"kind", kind},
               {"title", title},
               {"summary", summary},
               {"body", summary + "\n第二段。"},
               {"link", "https://www.example.gov.cn/items/" + id}};
  if (kind == "alert") {
    item["alert"] = {{"level", "reconsider"},
                     {"areas", json::array({{{"country", "TH"}, {"desc", "泰国南部"}}})},
                     {"hotline", "+86-10-12308"}};
  }
  return item;
}

Delivery delivery_for(const json& item, int attempt = 1, bool maybe_sent = false) {
  Delivery d;
  d.item_id = item.at("id").get<std::string>();
  d.channel = "wechat";
  d.id = herald::delivery_id_for(d.item_id, "wechat");
  d.kind = *herald::delivery_kind_from_string(item.at("kind").get<std::string>());
  d.category = "work_news";
  d.attempt = attempt;
  d.maybe_sent = maybe_sent;
  d.payload = item.dump();
  return d;
}

void sim_config(const std::string& sim_url, const json& config) {
  const auto response = herald::test::http("POST", sim_url + "/_sim/config", "", config.dump(),
                                           {{"Content-Type", "application/json"}});
  INFO(response.body);
  REQUIRE(response.status == 200);
}

json wechat_published(const std::string& sim_url) {
  return herald::test::sim_published(sim_url, "wechat");
}

long calls(const json& published, const std::string& api) {
  return published.at("calls").value(api, 0L);
}

std::string repeat(const std::string& unit, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += unit;
  return out;
}

// A real Redis token cache under a key prefix of its own, as heraldd would have.
struct SharedTokens {
  SharedTokens()
      : pool(herald::test::test_redis_options(), 4),
        cache(cache_options(herald::test::unique_key_prefix("wechat-tokens")), pool, clock) {}
  static herald::RedisTokenCacheOptions cache_options(std::string prefix) {
    herald::RedisTokenCacheOptions o;
    o.prefix = std::move(prefix);
    o.poll = 5ms;
    return o;
  }
  herald::SystemClock clock;
  herald::RedisPool pool;
  herald::RedisTokenCache cache;
};

// Publishes until the delivery is published or fails with something other than "still
// publishing" (a real dispatcher would wait retry_after in between; the sim does not need it).
herald::Result<herald::PublishReceipt> publish_through(WechatChannel& channel, const json& item) {
  for (int attempt = 1;; ++attempt) {
    auto result = channel.publish(delivery_for(item, attempt));
    if (result || result.error().code != "wechat_publishing" || attempt >= 10) return result;
  }
}

}  // namespace

TEST_CASE("classify_wechat_error gives every code of the reference table its class",
          "[adapters][wechat]") {
  const auto now = time_at("2026-11-29T20:00:00+08:00");  // 4 hours before Beijing midnight
  herald::WechatQuotaPolicy policy;
  enum class Want { retry, refresh, defer_day, defer_minute, defer_publish, defer_other, perm, ok };
  struct Row {
    long code;
    Want want;
  };
  const std::vector<Row> table = {
      {-1, Want::retry},           {40001, Want::refresh},       {40014, Want::refresh},
      {42001, Want::refresh},      {41001, Want::perm},          {40002, Want::perm},
      {40013, Want::perm},         {40125, Want::perm},          {40164, Want::perm},
      {40004, Want::perm},         {40005, Want::perm},          {40007, Want::perm},
      {40009, Want::perm},         {44002, Want::perm},          {47001, Want::perm},
      {45001, Want::perm},         {45002, Want::perm},          {45003, Want::perm},
      {45004, Want::perm},         {45009, Want::defer_day},     {45011, Want::defer_minute},
      {45028, Want::defer_day},    {45047, Want::defer_other},   {45065, Want::ok},
      {45066, Want::defer_minute}, {45067, Want::perm},          {48001, Want::perm},
      {48004, Want::perm},         {50002, Want::perm},          {48006, Want::perm},
      {53500, Want::perm},         {53501, Want::defer_publish}, {53502, Want::perm},
      {53600, Want::perm},         {53503, Want::perm},          {53504, Want::perm},
      {53505, Want::perm},         {87009, Want::perm},
  };
  for (const Row& row : table) {
    CAPTURE(row.code);
    REQUIRE(herald::wechat_class_of(row.code).has_value());
    auto result =
        herald::classify_wechat_error(row.code, "msg rid: 1-2-3", "draft/add", now, policy);
    if (row.want == Want::ok) {
      CHECK(result.ok());
      continue;
    }
    REQUIRE_FALSE(result.ok());
    const auto& error = result.error();
    CHECK(error.code == "wechat_" + std::to_string(row.code));
    CHECK_THAT(error.message, Catch::Contains(std::to_string(row.code)));
    CHECK_THAT(error.message, Catch::Contains("draft/add"));
    switch (row.want) {
      case Want::retry:
        CHECK(error.kind == ErrorKind::retryable);
        break;
      case Want::refresh:
        CHECK(error.kind == ErrorKind::credentials);
        break;
      case Want::defer_day:
        CHECK(error.kind == ErrorKind::deferred);
        CHECK(error.retry_after == 4h);
        break;
      case Want::defer_minute:
        CHECK(error.kind == ErrorKind::deferred);
        CHECK(error.retry_after == 60s);
        break;
      case Want::defer_publish:
        CHECK(error.kind == ErrorKind::deferred);
        CHECK(error.retry_after == 10min);
        break;
      case Want::defer_other:
        CHECK(error.kind == ErrorKind::deferred);
        CHECK(error.retry_after == 1h);
        break;
      case Want::perm:
        CHECK(error.kind == ErrorKind::permanent);
        break;
      case Want::ok:
        break;
    }
  }

  SECTION("on stable_token itself the token codes mean a bad AppSecret: permanent") {
    for (long code : {40001L, 40014L, 42001L}) {
      auto result = herald::classify_wechat_error(code, "", "stable_token", now, policy, true);
      REQUIRE_FALSE(result.ok());
      CHECK(result.error().kind == ErrorKind::permanent);
    }
  }

  SECTION("an unlisted code is permanent, not retried blindly") {
    auto result = herald::classify_wechat_error(99999, "new", "draft/add", now, policy);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::permanent);
    CHECK(result.error().code == "wechat_99999");
  }

  SECTION("45028 waits for the next month on a service account") {
    policy.mass_quota_monthly = true;
    auto result = herald::classify_wechat_error(45028, "", "message/mass/sendall",
                                                time_at("2026-11-30T23:00:00+08:00"), policy);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().retry_after == 1h);
  }
}

TEST_CASE("until_next_day and until_next_month count in the office's zone", "[adapters][wechat]") {
  CHECK(herald::until_next_day(time_at("2026-11-29T23:59:59+08:00"), 480) == 1s);
  CHECK(herald::until_next_day(time_at("2026-11-30T00:00:00+08:00"), 480) == 24h);
  CHECK(herald::until_next_day(time_at("2026-11-29T15:00:00+00:00"), 480) == 1h);
  CHECK(herald::until_next_month(time_at("2026-12-31T23:00:00+08:00"), 480) == 1h);
  CHECK(herald::until_next_month(time_at("2026-02-28T00:00:00+08:00"), 480) == 24h);
  CHECK(herald::until_next_month(time_at("2028-02-28T00:00:00+08:00"), 480) == 48h);
}

TEST_CASE("render_wechat_text fits the limit, keeps the link whole and never splits UTF-8",
          "[adapters][wechat]") {
  const json alert = item_json("a1", "泰国南部安全提醒", "谨慎前往。", "alert");

  SECTION("an alert: prefix, title, summary, hotline, link") {
    auto text = herald::render_wechat_text(alert, 600);
    REQUIRE(text.ok());
    CHECK(*text ==
          "【海外安全提醒】泰国南部安全提醒\n谨慎前往。\n领保热线：+86-10-12308\n详情：https://"
          "www.example.gov.cn/items/a1");
  }

  SECTION("long text is cut with … to exactly the limit") {
    json item = alert;
    item["summary"] = repeat("泰国南部发生爆炸😀", 100);
    auto text = herald::render_wechat_text(item, 120);
    REQUIRE(text.ok());
    CHECK(herald::wechat_length(*text) == 120);
    CHECK(herald::is_valid_utf8(*text));
    CHECK_THAT(*text, Catch::Contains("…\n领保热线"));
    CHECK_THAT(*text, Catch::EndsWith("详情：https://www.example.gov.cn/items/a1"));
  }

  SECTION("a publication has its title in brackets") {
    auto text = herald::render_wechat_text(item_json("p1", "工作动态", "今天开会。"), 600);
    REQUIRE(text.ok());
    CHECK_THAT(*text, Catch::StartsWith("【工作动态】\n今天开会。"));
  }

  SECTION("no title, or invalid UTF-8, is permanent") {
    json item = alert;
    item["title"] = "";
    auto no_title = herald::render_wechat_text(item, 600);
    REQUIRE_FALSE(no_title.ok());
    CHECK(no_title.error().code == "bad_payload");
    item["title"] = "\xE6\xB3";
    CHECK_FALSE(herald::render_wechat_text(item, 600).ok());
  }

  SECTION("fixed parts longer than the limit are text_too_long") {
    auto text = herald::render_wechat_text(alert, 40);
    REQUIRE_FALSE(text.ok());
    CHECK(text.error().code == "text_too_long");
  }
}

TEST_CASE("render_wechat_article keeps title, author, digest and content within the limits",
          "[adapters][wechat]") {
  json item = item_json("p1", repeat("标", 40), repeat("摘", 200), "alert");
  item["body"] = "第一段 <b>&</b>\n\n" + repeat("正文字", 10000);
  auto article = herald::render_wechat_article(item, repeat("作", 20));
  REQUIRE(article.ok());
  CHECK(herald::wechat_length(article->title) == 32);
  CHECK_THAT(article->title, Catch::EndsWith("…"));
  CHECK(herald::wechat_length(article->author) == 16);
  CHECK(herald::wechat_length(article->digest) == 128);
  CHECK(herald::wechat_length(article->content) <= 20000);
  CHECK(herald::wechat_length(article->content) > 19000);
  CHECK(herald::is_valid_utf8(article->content));
  CHECK_THAT(article->content, Catch::StartsWith("<p><strong>提醒级别：谨慎前往</strong></p>"));
  CHECK_THAT(article->content, Catch::Contains("<p>第一段 &lt;b&gt;&amp;&lt;/b&gt;</p>"));
  CHECK_THAT(article->content,
             Catch::EndsWith("…</p><p>详情：https://www.example.gov.cn/items/p1</p>"));
  CHECK(article->content_source_url == "https://www.example.gov.cn/items/p1");
}

TEST_CASE("parse_wechat_settings reads the section and names the key of any problem",
          "[adapters][wechat]") {
  const std::string path = "channels.wechat";
  const json base = {
      {"api_base", "https://api.weixin.qq.com/"}, {"appid", kAppId}, {"secret", "s"}};

  SECTION("a minimal section gets the defaults") {
    auto s = herald::parse_wechat_settings(base, path);
    REQUIRE(s.ok());
    CHECK(s->api_base == "https://api.weixin.qq.com");
    CHECK(s->mode == WechatMode::auto_select);
    CHECK(s->token_refresh_margin == 300s);
    CHECK(s->publish_poll.size() == 3);
    CHECK(s->text_max_chars == 600);
    CHECK_FALSE(s->tag_id.has_value());
    CHECK_FALSE(s->quota.mass_quota_monthly);
  }

  SECTION("every key set") {
    json j = base;
    j["mode"] = "broadcast";
    j["timeout_ms"] = 1500;
    j["connect_timeout_ms"] = 300;
    j["token"] = {{"refresh_margin_ms", 60000}, {"force_refresh_on_reject", false}};
    j["publish"] = {{"author", "外事办"}, {"poll_ms", {1000, 2000}}, {"open_comment", true}};
    j["broadcast"] = {{"tag_id", 2}, {"max_chars", 300}};
    j["quota"] = {{"reset_utc_offset_minutes", 0},
                  {"mass_quota", "month"},
                  {"publish_too_frequent_ms", 5000},
                  {"minute_wait_ms", 2000}};
    auto s = herald::parse_wechat_settings(j, path);
    REQUIRE(s.ok());
    CHECK(s->mode == WechatMode::broadcast);
    CHECK(s->timeout == 1500ms);
    CHECK(s->token_refresh_margin == 60s);
    CHECK_FALSE(s->force_refresh_on_reject);
    CHECK(s->publish_poll == std::vector<std::chrono::milliseconds>{1000ms, 2000ms});
    CHECK(s->tag_id == 2);
    CHECK(s->text_max_chars == 300);
    CHECK(s->quota.mass_quota_monthly);
    CHECK(s->quota.publish_too_frequent_wait == 5s);
  }

  SECTION("problems") {
    const herald::test::SectionVariants v{base};
    const std::vector<herald::test::SettingsProblem> cases = {
        {v.without("api_base"), "channels.wechat.api_base", "required"},
        {v.without("appid"), "channels.wechat.appid", "required"},
        {v.with("appid", "wx-1"), "channels.wechat.appid", "AppID"},
        {v.without("secret"), "channels.wechat.secret", "required"},
        {v.with("mode", "push"), "channels.wechat.mode", "auto"},
        {v.with("publish", {{"poll_ms", json::array()}}), "channels.wechat.publish.poll_ms",
         "list"},
        {v.with("publish", {{"cover_file", "/nonexistent/cover.png"}}),
         "channels.wechat.publish.cover_file", "read"},
        {v.with("quota", {{"mass_quota", "week"}}), "channels.wechat.quota.mass_quota", "day"},
        {v.with("sercet", "x"), "channels.wechat.sercet", "unknown key"},
    };
    herald::test::check_settings_problems(
        cases, [&](const json& section) { return herald::parse_wechat_settings(section, path); });
  }
}

TEST_CASE("WechatChannel publishes to herald-sim in both modes and recalls",
          "[adapters][wechat][sim][redis]") {
  auto sim = herald::test::start_sim();
  SharedTokens tokens;

  SECTION("broadcast: one mass send with the delivery's clientmsgid; a retry is 45065 = success") {
    WechatChannel channel(settings_for(sim.url, WechatMode::broadcast), tokens.clock,
                          &tokens.cache);
    const json item = item_json("b1", "泰国南部安全提醒", "谨慎前往。", "alert");
    auto receipt = channel.publish(delivery_for(item));
    REQUIRE(receipt.ok());
    json published = wechat_published(sim.url);
    REQUIRE(published.at("count") == 1);
    const json& sent = published.at("items")[0];
    CHECK(sent.at("kind") == "mass");
    CHECK(receipt->remote_id == "mass:" + sent.at("id").get<std::string>());
    CHECK(sent.at("content") == *herald::render_wechat_text(item, 600));
    CHECK(sent.at("clientmsgid") == delivery_for(item).idempotency_key());
    CHECK(sent.at("filter").at("is_to_all") == true);
    CHECK(published.at("token_fetches") == 1);

    auto again = channel.publish(delivery_for(item, 2));
    REQUIRE(again.ok());
    CHECK(again->remote_id == receipt->remote_id);
    published = wechat_published(sim.url);
    CHECK(published.at("count") == 1);
    CHECK(calls(published, "message/mass/sendall") == 2);

    SECTION("recall deletes the mass send") {
      REQUIRE(channel.recall(delivery_for(item), receipt->remote_id).ok());
      CHECK(wechat_published(sim.url).at("items")[0].at("deleted") == true);
    }
  }

  SECTION("publish: cover once, draft, submit, then get until published; recall deletes it") {
    WechatChannel channel(settings_for(sim.url, WechatMode::publish), tokens.clock, &tokens.cache);
    const json item = item_json("p1", "工作动态", "今天召开会议。");
    // WeChat publishes a submitted draft by itself after a while, polled or not.
    sim_config(sim.url, {{"wechat_publish_delay_ms", 300}});
    auto first = channel.publish(delivery_for(item, 1));
    REQUIRE_FALSE(first.ok());
    CHECK(first.error().kind == ErrorKind::deferred);
    CHECK(first.error().defer_reason == herald::DeferReason::processing);
    CHECK(first.error().code == "wechat_publishing");
    CHECK(first.error().retry_after == 50ms);
    json published = wechat_published(sim.url);
    CHECK(calls(published, "freepublish/submit") == 1);
    CHECK(calls(published, "freepublish/get") == 0);
    // Published on the platform without anyone asking.
    REQUIRE(herald::test::wait_until([&] { return wechat_published(sim.url).at("count") == 1; },
                                     10s, 20ms));

    auto third = channel.publish(delivery_for(item, 2));
    REQUIRE(third.ok());
    published = wechat_published(sim.url);
    REQUIRE(published.at("count") == 1);
    const json& article = published.at("items")[0];
    CHECK(article.at("kind") == "article");
    CHECK(third->remote_id == "article:" + article.at("id").get<std::string>());
    CHECK(article.at("title") == "工作动态");
    CHECK(article.at("author") == "外事办");
    // The delivery's marker rides in the article, for a read-back of the published list.
    CHECK(article.at("content_source_url") ==
          "https://www.example.gov.cn/items/p1?" + delivery_for(item).marker());
    // Every step once: no second draft or submit on the retries.
    CHECK(calls(published, "material/add_material") == 1);
    CHECK(calls(published, "draft/add") == 1);
    CHECK(calls(published, "freepublish/submit") == 1);
    CHECK(calls(published, "freepublish/get") == 1);
    REQUIRE(published.at("materials").size() == 1);
    CHECK(published.at("materials")[0].at("content_type") == "image/png");

    SECTION("a second publication reuses the cover's media_id") {
      sim_config(sim.url, {{"wechat_publish_delay_ms", 0}});
      auto next = publish_through(channel, item_json("p2", "人事信息", "任免。"));
      REQUIRE(next.ok());
      published = wechat_published(sim.url);
      CHECK(published.at("count") == 2);
      CHECK(calls(published, "material/add_material") == 1);
      CHECK(published.at("items")[1].at("thumb_media_id") ==
            published.at("materials")[0].at("media_id"));
    }

    SECTION("recall deletes the article; again is still success (53600 = already gone)") {
      REQUIRE(channel.recall(delivery_for(item), third->remote_id).ok());
      CHECK(wechat_published(sim.url).at("items")[0].at("deleted") == true);
      CHECK(channel.recall(delivery_for(item), third->remote_id).ok());
      auto unknown = channel.recall(delivery_for(item), "12345");
      REQUIRE_FALSE(unknown.ok());
      CHECK(unknown.error().code == "remote_id_unknown");
    }
  }

  SECTION("auto: an alert is broadcast, a publication published") {
    sim_config(sim.url, {{"wechat_publish_delay_ms", 0}});
    WechatChannel channel(settings_for(sim.url), tokens.clock, &tokens.cache);
    auto alert = channel.publish(delivery_for(item_json("a1", "提醒", "注意。", "alert")));
    REQUIRE(alert.ok());
    CHECK_THAT(alert->remote_id, Catch::StartsWith("mass:"));
    auto news = publish_through(channel, item_json("n1", "动态", "会议。"));
    REQUIRE(news.ok());
    CHECK_THAT(news->remote_id, Catch::StartsWith("article:"));
    // One token for everything.
    CHECK(wechat_published(sim.url).at("token_fetches") == 1);
  }

  SECTION("two channels on one Redis share one token") {
    WechatChannel one(settings_for(sim.url, WechatMode::broadcast), tokens.clock, &tokens.cache);
    WechatChannel two(settings_for(sim.url, WechatMode::broadcast), tokens.clock, &tokens.cache);
    REQUIRE(one.publish(delivery_for(item_json("s1", "一", "摘要", "alert"))).ok());
    REQUIRE(two.publish(delivery_for(item_json("s2", "二", "摘要", "alert"))).ok());
    CHECK(wechat_published(sim.url).at("token_fetches") == 1);
  }
}

TEST_CASE("WechatChannel turns each error class into its retry, deferral, refresh or dead letter",
          "[adapters][wechat][sim][redis]") {
  auto sim = herald::test::start_sim();
  SharedTokens tokens;
  WechatChannel channel(settings_for(sim.url, WechatMode::broadcast), tokens.clock, &tokens.cache);
  const json item = item_json("e1", "提醒", "注意。", "alert");
  // A first publish so that a token is cached.
  REQUIRE(channel.publish(delivery_for(item_json("e0", "预热", "摘要", "alert"))).ok());

  SECTION("-1 (system busy) is retryable") {
    sim_config(sim.url, {{"wechat_next_errors", {-1}}});
    auto result = channel.publish(delivery_for(item));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::retryable);
    CHECK(result.error().code == "wechat_-1");
  }

  SECTION("an injected fault is answered the WeChat way and is retryable") {
    REQUIRE(herald::test::http("POST", sim.url + "/_sim/faults", "", "wechat:fail_next=1").status ==
            200);
    auto result = channel.publish(delivery_for(item));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::retryable);
    CHECK(channel.publish(delivery_for(item, 2)).ok());
  }

  SECTION("48001 (api unauthorized) and 45067 are permanent: a dead letter") {
    sim_config(sim.url, {{"wechat_next_errors", {48001, 45067}}});
    auto unauthorized = channel.publish(delivery_for(item));
    REQUIRE_FALSE(unauthorized.ok());
    CHECK(unauthorized.error().kind == ErrorKind::permanent);
    CHECK(unauthorized.error().code == "wechat_48001");
    auto too_long = channel.publish(delivery_for(item));
    REQUIRE_FALSE(too_long.ok());
    CHECK(too_long.error().code == "wechat_45067");
  }

  SECTION("text over the sim's limit (45002) is permanent") {
    sim_config(sim.url, {{"wechat_mass_max_chars", 10}});
    auto result = channel.publish(delivery_for(item));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::permanent);
    CHECK(result.error().code == "wechat_45002");
  }

  SECTION("an expired token (42001) is refreshed once and the send goes through") {
    sim_config(sim.url, {{"wechat_expire_tokens", true}});
    auto result = channel.publish(delivery_for(item));
    REQUIRE(result.ok());
    const json published = wechat_published(sim.url);
    CHECK(published.at("token_fetches") == 2);
    CHECK(published.at("forced_refreshes") == 0);
    CHECK(calls(published, "message/mass/sendall") == 3);  // warm-up, refused, accepted
  }

  SECTION("a token replaced elsewhere (40001) is refreshed once and the send goes through") {
    sim_config(sim.url, {{"wechat_revoke_token", true}});
    auto result = channel.publish(delivery_for(item));
    REQUIRE(result.ok());
    const json published = wechat_published(sim.url);
    CHECK(published.at("token_fetches") == 2);
    CHECK(published.at("forced_refreshes") == 0);
  }

  SECTION(
      "a token refused twice is refreshed only once (forced, since stable_token gave the "
      "same one), then credentials") {
    sim_config(sim.url, {{"wechat_next_errors", {40014, 40014}}});
    auto result = channel.publish(delivery_for(item));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::credentials);
    CHECK(result.error().code == "wechat_40014");
    const json published = wechat_published(sim.url);
    CHECK(calls(published, "message/mass/sendall") == 3);  // warm-up, refused, refused again
    CHECK(published.at("token_fetches") == 3);             // first, normal, forced
    CHECK(published.at("forced_refreshes") == 1);
    CHECK(published.at("count") == 1);
  }

  SECTION("a wrong AppSecret on stable_token is permanent, and nothing is sent") {
    sim_config(sim.url, {{"wechat_expire_tokens", true}, {"wechat_secret", "rotated-secret"}});
    auto result = channel.publish(delivery_for(item));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::permanent);
    CHECK(result.error().code == "wechat_40125");
  }

  SECTION("an IP outside the whitelist (40164) on stable_token is permanent") {
    sim_config(sim.url, {{"wechat_expire_tokens", true}, {"wechat_token_next_errors", {40164}}});
    auto result = channel.publish(delivery_for(item));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::permanent);
    CHECK(result.error().code == "wechat_40164");
  }

  SECTION("no mass-send quota (45028) defers to the next day without spinning") {
    sim_config(sim.url, {{"wechat_mass_quota", 1}});  // the warm-up used it
    const auto before = tokens.clock.now();
    auto result = channel.publish(delivery_for(item));
    const auto after = tokens.clock.now();
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::deferred);
    CHECK(result.error().code == "wechat_45028");
    REQUIRE(result.error().retry_after.has_value());
    CHECK(*result.error().retry_after <= herald::until_next_day(before, 480));
    CHECK(*result.error().retry_after >= herald::until_next_day(after, 480) - 1s);
    const json published = wechat_published(sim.url);
    CHECK(calls(published, "message/mass/sendall") == 2);  // warm-up and this one, no more
    CHECK(published.at("count") == 1);
  }

  SECTION("the minute limit (45011) defers a minute") {
    sim_config(sim.url, {{"wechat_next_errors", {45011}}});
    auto result = channel.publish(delivery_for(item));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::deferred);
    CHECK(result.error().code == "wechat_45011");
    CHECK(result.error().retry_after == 60s);
    CHECK(calls(wechat_published(sim.url), "message/mass/sendall") == 2);
  }
}

TEST_CASE("WechatChannel resolves an ambiguous submit by reading back, never submitting twice",
          "[adapters][wechat][sim][redis]") {
  auto sim = herald::test::start_sim();
  sim_config(sim.url, {{"wechat_publish_delay_ms", 0}});
  SharedTokens tokens;
  WechatSettings settings = settings_for(sim.url, WechatMode::publish);
  settings.timeout = 300ms;
  WechatChannel channel(settings, tokens.clock, &tokens.cache);
  const json item = item_json("r1", "工作动态", "今天召开会议。");
  const std::string job_key = channel.token_key() + ":job:" + delivery_for(item).id;

  // Token, cover and draft first (the submit refused by its quota), so that the next publish
  // makes exactly one call: freepublish/submit.
  sim_config(sim.url, {{"wechat_daily_quota", {{"freepublish/submit", 0}}}});
  REQUIRE_FALSE(channel.publish(delivery_for(item, 1)).ok());
  sim_config(sim.url, {{"wechat_daily_quota", {{"freepublish/submit", 100}}}});
  auto set_faults = [&](const std::string& spec) {
    REQUIRE(herald::test::http("POST", sim.url + "/_sim/faults", "", spec).status == 200);
  };

  SECTION("late: WeChat took the draft and published it → found by the marker, one article") {
    set_faults("wechat:late=1.0,stall_ms=1500");
    auto timed_out = channel.publish(delivery_for(item, 2));
    REQUIRE_FALSE(timed_out.ok());
    CHECK(timed_out.error().kind == ErrorKind::ambiguous);
    set_faults("");
    REQUIRE(herald::test::wait_until([&] { return wechat_published(sim.url).at("count") == 1; },
                                     10s, 20ms));

    SECTION("the job's submitting mark sends the next attempt to the published list") {
      auto found = channel.publish(delivery_for(item, 3, /*maybe_sent=*/true));
      REQUIRE(found.ok());
      const json published = wechat_published(sim.url);
      CHECK(published.at("count") == 1);
      CHECK(found->remote_id == "article:" + published.at("items")[0].at("id").get<std::string>());
      CHECK(calls(published, "freepublish/submit") == 2);  // the refused one and the late one
      // The ack of that attempt may never arrive (its worker dies): the next attempt answers
      // from the job, with no new draft, submit or read-back.
      auto again = channel.publish(delivery_for(item, 4, /*maybe_sent=*/true));
      REQUIRE(again.ok());
      CHECK(again->remote_id == found->remote_id);
      const json after = wechat_published(sim.url);
      CHECK(after.at("count") == 1);
      CHECK(calls(after, "draft/add") == calls(published, "draft/add"));
      CHECK(calls(after, "freepublish/batchget") == calls(published, "freepublish/batchget"));
    }
    SECTION("without the mark (a job from before it), 40007 for our own draft reads back too") {
      REQUIRE(tokens.cache.set_value(
          job_key,
          json{{"draft", json::parse(*(*tokens.cache.get_value(job_key))).at("draft")}}.dump(),
          24h));
      auto found = channel.publish(delivery_for(item, 3, /*maybe_sent=*/true));
      REQUIRE(found.ok());
      const json published = wechat_published(sim.url);
      CHECK(published.at("count") == 1);
      CHECK_THAT(found->remote_id, Catch::StartsWith("article:"));
      CHECK(calls(published, "freepublish/submit") == 3);  // the third answered 40007
    }
  }

  SECTION("drop: WeChat never took the draft → still in the draft box, submitted once more") {
    set_faults("wechat:drop=1.0,stall_ms=1500");
    auto timed_out = channel.publish(delivery_for(item, 2));
    REQUIRE_FALSE(timed_out.ok());
    CHECK(timed_out.error().kind == ErrorKind::ambiguous);
    set_faults("");
    auto result = publish_through(channel, item);
    REQUIRE(result.ok());
    const json published = wechat_published(sim.url);
    CHECK(published.at("count") == 1);
    CHECK(calls(published, "draft/add") == 1);
  }

  SECTION("submitted but not yet published: deferred as still publishing, never a failure") {
    sim_config(sim.url, {{"wechat_publish_delay_ms", 600000}});
    set_faults("wechat:late=1.0,stall_ms=1500");
    REQUIRE_FALSE(channel.publish(delivery_for(item, 2)).ok());
    set_faults("");
    auto waiting = channel.publish(delivery_for(item, 3, /*maybe_sent=*/true));
    REQUIRE_FALSE(waiting.ok());
    CHECK(waiting.error().kind == ErrorKind::deferred);
    CHECK(waiting.error().defer_reason == herald::DeferReason::processing);
    CHECK(waiting.error().code == "wechat_publishing");
    CHECK(calls(wechat_published(sim.url), "freepublish/submit") == 2);
  }
}

TEST_CASE("WechatChannel in publish mode defers on quotas and dead-letters failed publications",
          "[adapters][wechat][sim][redis]") {
  auto sim = herald::test::start_sim();
  sim_config(sim.url, {{"wechat_publish_delay_ms", 0}});
  SharedTokens tokens;
  WechatChannel channel(settings_for(sim.url, WechatMode::publish), tokens.clock, &tokens.cache);
  const json item = item_json("q1", "财政信息", "预算公开。");

  SECTION("the submit quota (45009) defers to the next day; the draft is reused afterwards") {
    sim_config(sim.url, {{"wechat_daily_quota", {{"freepublish/submit", 0}}}});
    auto result = channel.publish(delivery_for(item));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::deferred);
    CHECK(result.error().code == "wechat_45009");
    REQUIRE(result.error().retry_after.has_value());
    CHECK(*result.error().retry_after <= 24h);
    json published = wechat_published(sim.url);
    CHECK(calls(published, "freepublish/submit") == 1);
    CHECK(calls(published, "draft/add") == 1);

    sim_config(sim.url, {{"wechat_daily_quota", {{"freepublish/submit", 100}}}});
    auto retried = publish_through(channel, item);
    REQUIRE(retried.ok());
    published = wechat_published(sim.url);
    CHECK(calls(published, "draft/add") == 1);
    CHECK(published.at("count") == 1);
  }

  SECTION("publishing too often (53501) defers by the configured wait") {
    sim_config(sim.url, {{"wechat_next_errors", {53501}}});
    // 53501 on the first call it meets (add_material here): the same deferral.
    WechatSettings s = settings_for(sim.url, WechatMode::publish);
    s.quota.publish_too_frequent_wait = 90s;
    WechatChannel tuned(s, tokens.clock, &tokens.cache);
    auto result = tuned.publish(delivery_for(item));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::deferred);
    CHECK(result.error().code == "wechat_53501");
    CHECK(result.error().retry_after == 90s);
  }

  SECTION("a publication refused by review (publish_status 4) is permanent") {
    sim_config(sim.url, {{"wechat_publish_fail_next", 4}});
    auto result = publish_through(channel, item);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::permanent);
    CHECK(result.error().code == "wechat_publish_status_4");
    CHECK_THAT(result.error().message, Catch::Contains("fail_idx"));
    CHECK(wechat_published(sim.url).at("count") == 0);

    SECTION("a replay starts over with a new draft and publishes") {
      auto replay = publish_through(channel, item);
      REQUIRE(replay.ok());
      const json published = wechat_published(sim.url);
      CHECK(published.at("count") == 1);
      CHECK(calls(published, "draft/add") == 2);
    }
  }
}

TEST_CASE("every text of a drill starts with 【演练】", "[adapters][wechat]") {
  json alert = item_json("a1", "泰国南部安全提醒", "谨慎前往。", "alert");
  alert["status"] = "exercise";

  SECTION("the text message, still within the limit") {
    auto text = herald::render_wechat_text(alert, 600);
    REQUIRE(text.ok());
    CHECK_THAT(*text, Catch::StartsWith("【演练】【海外安全提醒】泰国南部安全提醒\n谨慎前往。"));
    alert["summary"] = repeat("泰国南部发生爆炸", 100);
    auto cut = herald::render_wechat_text(alert, 120);
    REQUIRE(cut.ok());
    CHECK(herald::wechat_length(*cut) == 120);
    CHECK_THAT(*cut, Catch::StartsWith("【演练】【海外安全提醒】"));
  }
  SECTION("the article's title, digest and content; the mark is never cut") {
    alert["title"] = repeat("泰", 40);
    auto article = herald::render_wechat_article(alert, "外事办", {});
    REQUIRE(article.ok());
    CHECK_THAT(article->title, Catch::StartsWith("【演练】泰泰"));
    CHECK(herald::wechat_length(article->title) <= 32);
    CHECK_THAT(article->digest, Catch::StartsWith("【演练】谨慎前往。"));
    CHECK_THAT(article->content, Catch::StartsWith("<p><strong>【演练】</strong></p>"));
  }
  SECTION("an actual alert is not marked") {
    alert["status"] = "actual";
    auto text = herald::render_wechat_text(alert, 600);
    REQUIRE(text.ok());
    CHECK_THAT(*text, Catch::StartsWith("【海外安全提醒】"));
  }
}

TEST_CASE("a token answer without what it needs says what was missing, never the token",
          "[adapters][wechat][secrets]") {
  const std::string token = "LEAKY" + repeat("t0k3n", 30);
  json answer;
  int status = 200;
  herald::test::ScriptedHttpServer server([&](const herald::test::ScriptedRequest&) {
    herald::test::ScriptedResponse r;
    r.status = status;
    r.headers = {{"Content-Type", "application/json"}};
    r.body = answer.dump();
    return r;
  });
  SharedTokens tokens;
  WechatChannel channel(settings_for(server.url()), tokens.clock, &tokens.cache);
  const json item = item_json("t1", "标题", "摘要", "alert");

  auto publish_error = [&] {
    auto result = channel.publish(delivery_for(item));
    REQUIRE_FALSE(result.ok());
    INFO(result.error().message);
    CHECK(result.error().message.find("LEAKY") == std::string::npos);
    CHECK(result.error().message.find("t0k3n") == std::string::npos);
    return result.error();
  };
  SECTION("no expires_in") {
    answer = {{"access_token", token}};
    const auto e = publish_error();
    CHECK(e.code == "wechat_bad_answer");
    CHECK_THAT(e.message, Catch::Contains("no expires_in"));
  }
  SECTION("expires_in not a number, and no access_token") {
    answer = {{"expires_in", "7200"}, {"token", token}};
    const auto e = publish_error();
    CHECK_THAT(e.message, Catch::Contains("no access_token"));
    CHECK_THAT(e.message, Catch::Contains("expires_in not a positive integer"));
  }
  SECTION("a proxy's error page that quotes the token") {
    status = 502;
    answer = {{"access_token", token}, {"expires_in", 7200}};
    const auto e = publish_error();
    CHECK_THAT(e.message, Catch::Contains("HTTP 502"));
  }
}
