// Tests for adapters/weibo/: the error table of channel-apis.md §1.5 (written out here again, so a
// slip in the adapter's table cannot hide), status rendering against the 140-character limit, the
// settings, and the channel end to end against the real herald-sim and a real Redis rate limiter.
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "adapters/weibo/weibo_channel.h"
#include "core/item.h"
#include "queue/redis.h"
#include "queue/redis_rate_limiter.h"
#include "tests/adapters/settings_problems.h"
#include "tests/support/herald_processes.h"
#include "tests/support/process.h"
#include "tests/support/redis_server.h"
#include "tests/support/test_time.h"

using herald::Delivery;
using herald::ErrorKind;
using herald::WeiboChannel;
using herald::WeiboSettings;
using herald::test::time_at;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kToken = "weibo-test-token";
constexpr const char* kDomain = "www.example.gov.cn";

WeiboSettings settings_for(const std::string& api_base) {
  WeiboSettings s;
  s.api_base = api_base;
  s.access_token = kToken;
  s.safe_domain = kDomain;
  s.rip = "10.1.2.3";
  s.connect_timeout = 2000ms;
  s.timeout = 5000ms;
  return s;
}

json item_json(const std::string& id, const std::string& title, const std::string& summary = "",
               const std::string& kind = "publication") {
  return json{{"id", id},
              {"kind", kind},
              {"title", title},
              {"summary", summary},
              {"link", std::string("https://") + kDomain + "/items/" + id}};
}

Delivery delivery_for(const json& item, int attempt = 1, bool maybe_sent = false) {
  Delivery d;
  d.item_id = item.at("id").get<std::string>();
  d.channel = "weibo";
  d.id = herald::delivery_id_for(d.item_id, "weibo");
  d.kind = *herald::delivery_kind_from_string(item.at("kind").get<std::string>());
  d.category = "work_news";
  d.attempt = attempt;
  d.maybe_sent = maybe_sent;
  d.payload = item.dump();
  return d;
}

std::string repeat(const std::string& unit, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += unit;
  return out;
}

void sim_config(const std::string& sim_url, const json& config) {
  const auto response = herald::test::http("POST", sim_url + "/_sim/config", "", config.dump(),
                                           {{"Content-Type", "application/json"}});
  INFO(response.body);
  REQUIRE(response.status == 200);
}

json weibo_published(const std::string& sim_url) {
  return herald::test::sim_published(sim_url, "weibo");
}

}  // namespace

TEST_CASE("classify_weibo_error gives every code of the reference table its class",
          "[adapters][weibo]") {
  const auto now = time_at("2026-11-29T08:20:00+00:00");  // 40 minutes before the hourly reset
  enum class Want { retry, defer_hour, defer_short, perm, ok };
  struct Row {
    long code;
    Want want;
  };
  // channel-apis.md §1.5; token codes are OPS there (Weibo has no refresh): permanent.
  const std::vector<Row> table = {
      {10001, Want::retry},       {10002, Want::retry},      {10003, Want::retry},
      {10009, Want::retry},       {10010, Want::retry},      {10011, Want::retry},
      {10004, Want::perm},        {10005, Want::perm},       {10014, Want::perm},
      {10006, Want::perm},        {10008, Want::perm},       {10016, Want::perm},
      {10017, Want::perm},        {10018, Want::perm},       {10020, Want::perm},
      {10021, Want::perm},        {10022, Want::defer_hour}, {10023, Want::defer_hour},
      {10024, Want::defer_hour},  {20003, Want::perm},       {20005, Want::perm},
      {20006, Want::perm},        {20007, Want::perm},       {20008, Want::perm},
      {20012, Want::perm},        {20013, Want::perm},       {20015, Want::perm},
      {20016, Want::defer_short}, {20017, Want::perm},       {20018, Want::perm},
      {20020, Want::perm},        {20021, Want::perm},       {20022, Want::perm},
      {20031, Want::perm},        {20032, Want::ok},         {20111, Want::perm},
      {21301, Want::perm},        {21314, Want::perm},       {21315, Want::perm},
      {21316, Want::perm},        {21317, Want::perm},       {21319, Want::perm},
      {21321, Want::perm},        {21327, Want::perm},       {21332, Want::perm},
      {21322, Want::perm},        {21323, Want::perm},       {21324, Want::perm},
      {21325, Want::perm},        {21326, Want::perm},       {21328, Want::perm},
      {21329, Want::perm},        {21330, Want::perm},       {21331, Want::retry},
  };
  for (const Row& row : table) {
    for (long status : {400L, 403L}) {
      CAPTURE(row.code, status);
      auto result = herald::classify_weibo_error(status, row.code, "some text", now);
      if (row.want == Want::ok) {
        CHECK(result.ok());
        continue;
      }
      REQUIRE_FALSE(result.ok());
      const auto& error = result.error();
      CHECK(error.code == "weibo_" + std::to_string(row.code));
      CHECK_THAT(error.message, Catch::Contains(std::to_string(row.code)));
      CHECK_THAT(error.message, Catch::Contains("some text"));
      switch (row.want) {
        case Want::retry:
          CHECK(error.kind == ErrorKind::retryable);
          break;
        case Want::defer_hour:
          CHECK(error.kind == ErrorKind::deferred);
          CHECK(error.retry_after == 40min);
          break;
        case Want::defer_short:
          CHECK(error.kind == ErrorKind::deferred);
          CHECK(error.retry_after == 10min);
          break;
        case Want::perm:
          CHECK(error.kind == ErrorKind::permanent);
          break;
        case Want::ok:
          break;
      }
    }
  }

  SECTION("20019 (identical text) proves nothing by itself: permanent until the timeline says") {
    auto repeat = herald::classify_weibo_error(400, 20019, "Repeat conetnt!", now);
    REQUIRE_FALSE(repeat.ok());
    CHECK(repeat.error().kind == ErrorKind::permanent);
    CHECK(repeat.error().code == "weibo_20019");
  }

  SECTION("token codes say to re-authorise") {
    auto expired = herald::classify_weibo_error(400, 21327, "expired_token", now);
    REQUIRE_FALSE(expired.ok());
    CHECK_THAT(expired.error().message, Catch::Contains("re-authorise"));
  }

  SECTION("unknown codes and answers without one go by the HTTP status") {
    // A 5xx without a Weibo code came from something in between, maybe after Weibo posted.
    for (long status : {500L, 502L, 503L}) {
      CAPTURE(status);
      auto result = herald::classify_weibo_error(status, 0, "", now);
      REQUIRE_FALSE(result.ok());
      CHECK(result.error().kind == ErrorKind::ambiguous);
      CHECK(result.error().code == "http_" + std::to_string(status));
    }
    auto timeout = herald::classify_weibo_error(408, 0, "", now);
    REQUIRE_FALSE(timeout.ok());
    CHECK(timeout.error().kind == ErrorKind::retryable);
    auto unknown_5xx = herald::classify_weibo_error(500, 29999, "new", now);
    REQUIRE_FALSE(unknown_5xx.ok());
    CHECK(unknown_5xx.error().kind == ErrorKind::ambiguous);
    CHECK(unknown_5xx.error().code == "weibo_29999");
    auto unknown_4xx = herald::classify_weibo_error(400, 29999, "new", now);
    REQUIRE_FALSE(unknown_4xx.ok());
    CHECK(unknown_4xx.error().kind == ErrorKind::permanent);
    auto too_many = herald::classify_weibo_error(429, 0, "", now);
    REQUIRE_FALSE(too_many.ok());
    CHECK(too_many.error().kind == ErrorKind::deferred);
    CHECK(too_many.error().retry_after == 40min);
  }
}

TEST_CASE("until_next_hour waits for the next full hour", "[adapters][weibo]") {
  CHECK(herald::until_next_hour(time_at("2026-11-29T08:59:59+00:00")) == 1s);
  CHECK(herald::until_next_hour(time_at("2026-11-29T09:00:00+00:00")) == 1h);
  // Hours are hours in UTC+8 too (whole-hour offset).
  CHECK(herald::until_next_hour(time_at("2026-11-29T16:30:00+08:00")) == 30min);
}

TEST_CASE("utf8_prefix and weibo_length count code points, never splitting a character",
          "[adapters][weibo]") {
  CHECK(herald::weibo_length("") == 0);
  CHECK(herald::weibo_length("abc") == 3);
  CHECK(herald::weibo_length("泰国南部") == 4);
  CHECK(herald::weibo_length("a😀b") == 3);
  CHECK(herald::utf8_prefix("泰国南部", 2) == "泰国");
  CHECK(herald::utf8_prefix("a😀b", 2) == "a😀");
  CHECK(herald::utf8_prefix("abc", 10) == "abc");
  CHECK(herald::utf8_prefix("abc", 0).empty());
}

TEST_CASE("is_url_under_domain accepts the domain and its subdomains only", "[adapters][weibo]") {
  CHECK(herald::is_url_under_domain("https://www.example.gov.cn/a", "www.example.gov.cn"));
  CHECK(herald::is_url_under_domain("HTTP://WWW.Example.gov.cn:8443/a?b#c", "www.example.gov.cn"));
  CHECK(herald::is_url_under_domain("https://m.example.gov.cn/a", "example.gov.cn"));
  CHECK_FALSE(
      herald::is_url_under_domain("https://www.example.gov.cn.evil.com/a", "www.example.gov.cn"));
  CHECK_FALSE(herald::is_url_under_domain("https://badexample.gov.cn/", "example.gov.cn"));
  CHECK_FALSE(
      herald::is_url_under_domain("https://evil.com/?u=www.example.gov.cn", "www.example.gov.cn"));
  CHECK_FALSE(
      herald::is_url_under_domain("https://www.example.gov.cn@evil.com/", "www.example.gov.cn"));
  CHECK_FALSE(herald::is_url_under_domain("ftp://www.example.gov.cn/", "www.example.gov.cn"));
  CHECK_FALSE(herald::is_url_under_domain("", "www.example.gov.cn"));
}

TEST_CASE("render_weibo_status fits the limit and always ends with the whole safe link",
          "[adapters][weibo]") {
  WeiboSettings s = settings_for("https://api.weibo.com");
  const std::string link = std::string("https://") + kDomain + "/items/it-1";

  SECTION("a short publication is title, summary and link") {
    auto status =
        herald::render_weibo_status(item_json("it-1", "工作动态", "今天开会。"), "it-1", s);
    REQUIRE(status.ok());
    CHECK(*status == "【工作动态】今天开会。 " + link);
  }

  SECTION("an alert carries the alert prefix; the body stands in for a missing summary") {
    json item = item_json("it-1", "泰国南部安全提醒", "", "alert");
    item["body"] = "近期\n多起袭击。";
    auto status = herald::render_weibo_status(item, "it-1", s);
    REQUIRE(status.ok());
    CHECK(*status == "【海外安全提醒】泰国南部安全提醒 近期 多起袭击。 " + link);
  }

  SECTION("long Chinese text is cut on a code point with … and the link kept whole") {
    const std::string summary = repeat("泰国南部发生爆炸😀", 40);  // 360 code points
    auto status = herald::render_weibo_status(item_json("it-1", "提醒", summary), "it-1", s);
    REQUIRE(status.ok());
    CHECK(herald::weibo_length(*status) == 140);
    CHECK(herald::is_valid_utf8(*status));
    CHECK_THAT(*status, Catch::EndsWith("… " + link));
    const std::string text = status->substr(0, status->size() - link.size() - 1 - 3);
    CHECK_THAT("【提醒】" + summary, Catch::StartsWith(text));
  }

  SECTION("the limit is configurable") {
    s.max_chars = 60;
    auto status =
        herald::render_weibo_status(item_json("it-1", "提醒", repeat("长", 200)), "it-1", s);
    REQUIRE(status.ok());
    CHECK(herald::weibo_length(*status) == 60);
    CHECK_THAT(*status, Catch::EndsWith(" " + link));
  }

  SECTION("text exactly at the limit is not cut") {
    const std::size_t room = 140 - herald::weibo_length(link) - 1 - 4;  // "【提醒】" is 4
    auto status =
        herald::render_weibo_status(item_json("it-1", "提醒", repeat("字", room)), "it-1", s);
    REQUIRE(status.ok());
    CHECK(herald::weibo_length(*status) == 140);
    CHECK(status->find("…") == std::string::npos);
  }

  SECTION("a link outside the safe domain is replaced by the portal link") {
    json item = item_json("it-1", "标题", "摘要");
    item["link"] = "https://elsewhere.example.com/x";
    s.portal_link_template = std::string("https://") + kDomain + "/portal/{id}.html";
    auto status = herald::render_weibo_status(item, "it-1", s);
    REQUIRE(status.ok());
    CHECK_THAT(*status, Catch::EndsWith(std::string(" https://") + kDomain + "/portal/it-1.html"));
    CHECK(status->find("elsewhere") == std::string::npos);

    item.erase("link");
    auto no_link = herald::render_weibo_status(item, "it-1", s);
    REQUIRE(no_link.ok());
    CHECK_THAT(*no_link, Catch::EndsWith("/portal/it-1.html"));
  }

  SECTION("no safe link and no template is permanent") {
    json item = item_json("it-1", "标题", "摘要");
    item["link"] = "https://elsewhere.example.com/x";
    auto status = herald::render_weibo_status(item, "it-1", s);
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().kind == ErrorKind::permanent);
    CHECK(status.error().code == "no_safe_link");
  }

  SECTION("a link too long for the limit is permanent") {
    json item = item_json("it-1", "标题", "摘要");
    item["link"] = std::string("https://") + kDomain + "/" + std::string(200, 'a');
    auto status = herald::render_weibo_status(item, "it-1", s);
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().code == "link_too_long");
  }

  SECTION("# in the text becomes ＃, so no #topic# reaches share.json") {
    auto status = herald::render_weibo_status(item_json("it-1", "#话题#", "a#b"), "it-1", s);
    REQUIRE(status.ok());
    CHECK(status->substr(0, status->size() - link.size()).find('#') == std::string::npos);
    CHECK_THAT(*status, Catch::StartsWith("【＃话题＃】a＃b"));
  }
}

TEST_CASE("parse_weibo_settings reads the section and names the key of any problem",
          "[adapters][weibo]") {
  const std::string path = "channels.weibo";
  const json base = {{"api_base", "https://api.weibo.com/"},
                     {"access_token", "t"},
                     {"safe_domain", "WWW.Example.gov.cn"},
                     {"rip", "203.0.113.10"}};

  SECTION("a minimal section gets the defaults") {
    auto s = herald::parse_weibo_settings(base, path);
    REQUIRE(s.ok());
    CHECK(s->api_base == "https://api.weibo.com");
    CHECK(s->safe_domain == "www.example.gov.cn");
    CHECK(s->rate_limit_posts == 30);
    CHECK(s->rate_limit_window == 1h);
    CHECK(s->max_chars == 140);
    CHECK(s->rip == "203.0.113.10");
    CHECK(s->lookup_pages == 3);
  }

  SECTION("every key set") {
    json j = base;
    j["rate_limit"] = {{"posts", 2}, {"window_ms", 60000}};
    j["timeout_ms"] = 1500;
    j["connect_timeout_ms"] = 300;
    j["rip"] = "211.156.0.1";
    j["portal_link_template"] = "https://www.example.gov.cn/items/{id}";
    j["max_chars"] = 100;
    auto s = herald::parse_weibo_settings(j, path);
    REQUIRE(s.ok());
    CHECK(s->rate_limit_posts == 2);
    CHECK(s->rate_limit_window == 60s);
    CHECK(s->timeout == 1500ms);
    CHECK(s->connect_timeout == 300ms);
    CHECK(s->rip == "211.156.0.1");
    CHECK(s->max_chars == 100);
  }

  SECTION("problems") {
    const herald::test::SectionVariants v{base};
    const std::vector<herald::test::SettingsProblem> cases = {
        {v.without("api_base"), "channels.weibo.api_base", "required"},
        {v.with("api_base", "api.weibo.com"), "channels.weibo.api_base", "http"},
        {v.without("access_token"), "channels.weibo.access_token", "required"},
        {v.with("access_token_file", "/nonexistent"), "channels.weibo.access_token", "not both"},
        {v.without("safe_domain"), "channels.weibo.safe_domain", "required"},
        {v.with("safe_domain", "https://www.example.gov.cn/"), "channels.weibo.safe_domain",
         "domain"},
        {v.with("rate_limit", {{"posts", 0}}), "channels.weibo.rate_limit.posts", "between"},
        {v.with("rate_limit", {{"per", 1}}), "channels.weibo.rate_limit.per", "unknown key"},
        {v.with("rip", "not an ip"), "channels.weibo.rip", "address"},
        {v.without("rip"), "channels.weibo.rip", "required"},
        {v.with("lookup_pages", 0), "channels.weibo.lookup_pages", "between"},
        {v.with("portal_link_template", "https://other.gov.cn/{id}"),
         "channels.weibo.portal_link_template", "safe_domain"},
        {v.with("max_chars", 5), "channels.weibo.max_chars", "between"},
        {v.with("tokn", "x"), "channels.weibo.tokn", "unknown key"},
    };
    herald::test::check_settings_problems(
        cases, [&](const json& section) { return herald::parse_weibo_settings(section, path); });
  }
}

TEST_CASE("WeiboChannel posts to herald-sim and classifies its answers", "[adapters][weibo][sim]") {
  auto sim = herald::test::start_sim();
  sim_config(sim.url, {{"weibo_token", kToken}, {"weibo_safe_domain", "example.gov.cn"}});
  herald::SystemClock clock;
  WeiboChannel channel(settings_for(sim.url), clock, nullptr);

  SECTION("success stores the idstr; the sim saw the form we rendered") {
    const json item = item_json("it-1", "泰国南部安全提醒", "谨慎前往。", "alert");
    auto receipt = channel.publish(delivery_for(item));
    REQUIRE(receipt.ok());
    const json published = weibo_published(sim.url);
    REQUIRE(published.at("count") == 1);
    const json& post = published.at("items")[0];
    CHECK(receipt->remote_id == post.at("id"));
    CHECK(post.at("fields").at("status") ==
          *herald::render_weibo_status(item, "it-1", settings_for(sim.url),
                                       delivery_for(item).marker()));
    // The delivery's marker rides in the link, so a read-back finds exactly this post.
    CHECK_THAT(post.at("text").get<std::string>(),
               Catch::Contains("/items/it-1?" + delivery_for(item).marker()));
    CHECK(post.at("fields").at("rip") == "10.1.2.3");

    SECTION("recall deletes it, and recalling again is still success") {
      REQUIRE(channel.recall(delivery_for(item), receipt->remote_id).ok());
      const json after = weibo_published(sim.url);
      CHECK(after.at("items")[0].at("deleted") == true);
      CHECK(after.at("deleted") == 1);
      CHECK(channel.recall(delivery_for(item), receipt->remote_id).ok());
    }

    SECTION("the same delivery again: 20019, and the timeline shows our post, so it is ours") {
      auto again = channel.publish(delivery_for(item, 2));
      REQUIRE(again.ok());
      CHECK(again->remote_id == receipt->remote_id);
      CHECK(weibo_published(sim.url).at("count") == 1);
    }
  }

  SECTION("20019 for a text that is not ours (no post carries our marker) is permanent") {
    // Another delivery of the same item text would carry another marker; here the sim answers
    // 20019 although the account's timeline holds nothing of ours.
    sim_config(sim.url, {{"weibo_next_errors", {20019}}});
    auto result = channel.publish(delivery_for(item_json("it-12", "标题", "摘要")));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::permanent);
    CHECK(result.error().code == "weibo_20019");
    CHECK(weibo_published(sim.url).at("count") == 0);
  }

  SECTION("a wrong token is the token error, permanent (no refresh exists)") {
    WeiboSettings wrong = settings_for(sim.url);
    wrong.access_token = "not-the-token";
    WeiboChannel other(wrong, clock, nullptr);
    auto result = other.publish(delivery_for(item_json("it-2", "标题", "摘要")));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::permanent);
    CHECK(result.error().code == "weibo_21332");
    CHECK(weibo_published(sim.url).at("count") == 0);
  }

  SECTION("an expired token (21327) is permanent with a re-authorise message") {
    sim_config(sim.url, {{"weibo_next_errors", {21327}}});
    auto result = channel.publish(delivery_for(item_json("it-3", "标题", "摘要")));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::permanent);
    CHECK(result.error().code == "weibo_21327");
    CHECK_THAT(result.error().message, Catch::Contains("re-authorise"));
  }

  SECTION("the sim's hourly limit is deferred until the next full hour") {
    sim_config(sim.url, {{"weibo_hourly_limit", 1}});
    REQUIRE(channel.publish(delivery_for(item_json("it-4", "一", "摘要"))).ok());
    const auto before = clock.now();
    auto result = channel.publish(delivery_for(item_json("it-5", "二", "摘要")));
    const auto after = clock.now();
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::deferred);
    CHECK(result.error().code == "weibo_10024");
    REQUIRE(result.error().retry_after.has_value());
    const auto wait = *result.error().retry_after;
    CHECK(wait > 0ms);
    CHECK(wait <= 1h);
    if (herald::until_next_hour(before) > herald::until_next_hour(after)) {  // same hour
      CHECK(wait <= herald::until_next_hour(before));
      CHECK(wait >= herald::until_next_hour(after));
    }
  }

  SECTION("a user rate-limit code (10023) is deferred too") {
    sim_config(sim.url, {{"weibo_next_errors", {10023}}});
    auto result = channel.publish(delivery_for(item_json("it-6", "标题", "摘要")));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::deferred);
    CHECK(result.error().code == "weibo_10023");
  }

  SECTION("20032 (accepted, server slow) is success, with the post's id when the timeline has it") {
    sim_config(sim.url, {{"weibo_next_errors", {20032}}});
    auto result = channel.publish(delivery_for(item_json("it-7", "标题", "摘要")));
    REQUIRE(result.ok());
    const json published = weibo_published(sim.url);
    if (published.at("count") == 1) {
      CHECK(result->remote_id == published.at("items")[0].at("idstr"));
    } else {
      CHECK(result->remote_id == "unconfirmed:20032");
    }
  }

  SECTION("text over the sim's limit is 20012, permanent") {
    WeiboSettings lax = settings_for(sim.url);
    lax.max_chars = 300;
    WeiboChannel other(lax, clock, nullptr);
    auto result = other.publish(delivery_for(item_json("it-8", "标题", repeat("长", 250))));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::permanent);
    CHECK(result.error().code == "weibo_20012");
  }

  SECTION("a link outside the app's safe domain is 10017, permanent") {
    sim_config(sim.url, {{"weibo_safe_domain", "other.gov.cn"}});
    auto result = channel.publish(delivery_for(item_json("it-9", "标题", "摘要")));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::permanent);
    CHECK(result.error().code == "weibo_10017");
  }
}

TEST_CASE("WeiboChannel resolves an ambiguous post by reading the timeline before posting again",
          "[adapters][weibo][sim]") {
  herald::SystemClock clock;
  WeiboSettings settings;
  const json item = item_json("it-30", "泰国南部安全提醒", "谨慎前往。", "alert");

  SECTION("late: Weibo posted, the answer came after our timeout → found, not posted again") {
    auto sim = herald::test::start_sim({"--faults", "weibo:late=1.0,stall_ms=1500"});
    sim_config(sim.url, {{"weibo_token", kToken}});
    settings = settings_for(sim.url);
    settings.timeout = 300ms;
    WeiboChannel channel(settings, clock, nullptr);
    auto first = channel.publish(delivery_for(item, 1));
    REQUIRE_FALSE(first.ok());
    CHECK(first.error().kind == ErrorKind::ambiguous);
    REQUIRE(herald::test::wait_until([&] { return weibo_published(sim.url).at("count") == 1; }, 10s,
                                     20ms));
    REQUIRE(herald::test::http("POST", sim.url + "/_sim/faults", "", "").status == 200);
    auto second = channel.publish(delivery_for(item, 2, /*maybe_sent=*/true));
    REQUIRE(second.ok());
    const json published = weibo_published(sim.url);
    CHECK(published.at("count") == 1);
    CHECK(second->remote_id == published.at("items")[0].at("idstr"));
  }

  SECTION("drop: Weibo never acted → absent on the timeline, posted once") {
    auto sim = herald::test::start_sim({"--faults", "weibo:drop=1.0,stall_ms=1500"});
    sim_config(sim.url, {{"weibo_token", kToken}});
    settings = settings_for(sim.url);
    settings.timeout = 300ms;
    WeiboChannel channel(settings, clock, nullptr);
    auto first = channel.publish(delivery_for(item, 1));
    REQUIRE_FALSE(first.ok());
    CHECK(first.error().kind == ErrorKind::ambiguous);
    REQUIRE(herald::test::http("POST", sim.url + "/_sim/faults", "", "").status == 200);
    auto second = channel.publish(delivery_for(item, 2, /*maybe_sent=*/true));
    REQUIRE(second.ok());
    const json published = weibo_published(sim.url);
    CHECK(published.at("count") == 1);
    CHECK(second->remote_id == published.at("items")[0].at("idstr"));
  }

  SECTION("a look-only attempt that finds nothing is a dead letter, not a post") {
    auto sim = herald::test::start_sim();
    sim_config(sim.url, {{"weibo_token", kToken}});
    WeiboChannel channel(settings_for(sim.url), clock, nullptr);
    Delivery last = delivery_for(item, 9, /*maybe_sent=*/true);
    last.lookup_only = true;
    auto result = channel.publish(last);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::permanent);
    CHECK(result.error().code == "not_published");
    CHECK(weibo_published(sim.url).at("count") == 0);
  }
}

TEST_CASE("WeiboChannel treats herald-sim's injected 5xx as retryable", "[adapters][weibo][sim]") {
  herald::SystemClock clock;

  SECTION("5xx=1.0") {
    auto sim = herald::test::start_sim({"--faults", "weibo:5xx=1.0"});
    sim_config(sim.url, {{"weibo_token", kToken}});
    WeiboChannel channel(settings_for(sim.url), clock, nullptr);
    auto result = channel.publish(delivery_for(item_json("it-10", "标题", "摘要")));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::retryable);
    CHECK_THAT(result.error().code, Catch::Equals("weibo_10001") || Catch::Equals("weibo_10002"));
    CHECK(weibo_published(sim.url).at("count") == 0);
  }

  SECTION("fail_next=1, then the retry goes through") {
    auto sim = herald::test::start_sim({"--faults", "weibo:fail_next=1"});
    sim_config(sim.url, {{"weibo_token", kToken}});
    WeiboChannel channel(settings_for(sim.url), clock, nullptr);
    const json item = item_json("it-11", "标题", "摘要");
    auto failed = channel.publish(delivery_for(item, 1));
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.error().kind == ErrorKind::retryable);
    auto retried = channel.publish(delivery_for(item, 2));
    REQUIRE(retried.ok());
    CHECK(weibo_published(sim.url).at("count") == 1);
  }
}

TEST_CASE("WeiboChannels sharing one Redis rate limiter stop at the budget without calling Weibo",
          "[adapters][weibo][sim][redis]") {
  auto sim = herald::test::start_sim();
  sim_config(sim.url, {{"weibo_token", kToken}});
  herald::RedisPool pool(herald::test::test_redis_options(), 2);
  // Fixed at 08:20 UTC: the budget's hourly window cannot roll over during the test.
  herald::ManualClock clock(time_at("2026-11-29T08:20:00+00:00"));
  herald::RedisRateLimiter limiter(herald::test::unique_key_prefix("weibo-rl"), pool, clock);

  WeiboSettings settings = settings_for(sim.url);
  settings.rate_limit_posts = 2;
  settings.rate_limit_window = 1h;
  WeiboChannel first(settings, clock, &limiter);
  WeiboChannel second(settings, clock, &limiter);
  CHECK(first.rate_limit_key() == second.rate_limit_key());
  CHECK(first.rate_limit_key().find(kToken) == std::string::npos);

  REQUIRE(first.publish(delivery_for(item_json("it-20", "一", "摘要"))).ok());
  REQUIRE(second.publish(delivery_for(item_json("it-21", "二", "摘要"))).ok());
  auto third = first.publish(delivery_for(item_json("it-22", "三", "摘要")));
  REQUIRE_FALSE(third.ok());
  CHECK(third.error().kind == ErrorKind::deferred);
  CHECK(third.error().code == "weibo_budget_spent");
  CHECK(third.error().retry_after == 40min);
  auto fourth = second.publish(delivery_for(item_json("it-23", "四", "摘要")));
  REQUIRE_FALSE(fourth.ok());
  CHECK(fourth.error().kind == ErrorKind::deferred);

  const json published = weibo_published(sim.url);
  CHECK(published.at("requests") == 2);
  CHECK(published.at("count") == 2);

  SECTION("the next hour brings a fresh budget") {
    clock.advance(40min);
    REQUIRE(first.publish(delivery_for(item_json("it-24", "五", "摘要"))).ok());
    CHECK(weibo_published(sim.url).at("requests") == 3);
  }
}

TEST_CASE("a drill's status starts with 【演练】 and still fits the limit", "[adapters][weibo]") {
  WeiboSettings s = settings_for("https://api.weibo.com");
  json item = item_json("it-1", "泰国南部安全提醒", repeat("长", 200), "alert");
  item["status"] = "exercise";
  auto status = herald::render_weibo_status(item, "it-1", s);
  REQUIRE(status.ok());
  CHECK_THAT(*status, Catch::StartsWith("【演练】【海外安全提醒】泰国南部安全提醒"));
  CHECK(herald::weibo_length(*status) == 140);

  item["status"] = "actual";
  auto actual = herald::render_weibo_status(item, "it-1", s);
  REQUIRE(actual.ok());
  CHECK_THAT(*actual, Catch::StartsWith("【海外安全提醒】"));
}
