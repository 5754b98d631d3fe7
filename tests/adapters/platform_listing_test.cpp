// Reading back what each platform holds, for reconciliation (Channel::list_published): Weibo's
// timeline, WeChat's published articles and broadcasts, the portal's submission list, each
// against the real herald-sim, and the media channel's own feeds in a real Redis; with the
// marker and time parsing they rely on.
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "adapters/channel.h"
#include "adapters/media/media_channel.h"
#include "adapters/portal/portal_channel.h"
#include "adapters/wechat/wechat_channel.h"
#include "adapters/weibo/weibo_channel.h"
#include "core/item.h"
#include "queue/redis.h"
#include "queue/redis_feed_store.h"
#include "queue/redis_token_cache.h"
#include "tests/support/herald_processes.h"
#include "tests/support/redis_server.h"
#include "tests/support/test_time.h"

using herald::Delivery;
using herald::HeldDelivery;
using herald::PlatformListing;
using herald::PlatformRecord;
using herald::TimePoint;
using herald::test::time_at;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kDomain = "www.example.gov.cn";

json item_json(const std::string& id, const std::string& title,
               const std::string& kind = "publication") {
  json item = {{"id", id},
               {"kind", kind},
               {"category", kind == "alert" ? "overseas_safety" : "work_news"},
               {"title", title},
               {"summary", title + "。"},
               {"body", title + "。\n第二段。"},
               {"link", std::string("https://") + kDomain + "/items/" + id},
               {"created_at", "2026-11-29T09:00:00+08:00"}};
  if (kind == "alert") {
    item["alert"] = {{"level", "reconsider"},
                     {"severity", "Severe"},
                     {"urgency", "Immediate"},
                     {"certainty", "Likely"},
                     {"areas", json::array({{{"country", "TH"}, {"desc", "泰国南部"}}})},
                     {"hotline", "12308"}};
  }
  return item;
}

Delivery delivery_for(const json& item, const std::string& channel, int attempt = 1) {
  Delivery d;
  d.item_id = item.at("id").get<std::string>();
  d.channel = channel;
  d.id = herald::delivery_id_for(d.item_id, channel);
  d.kind = *herald::delivery_kind_from_string(item.at("kind").get<std::string>());
  d.category = item.at("category").get<std::string>();
  d.attempt = attempt;
  d.payload = item.dump();
  return d;
}

const PlatformRecord* find(const PlatformListing& listing, const std::string& remote_id) {
  for (const auto& r : listing.records) {
    if (r.remote_id == remote_id) return &r;
  }
  return nullptr;
}

// An hour around now: what was just published is inside, whatever the clock says.
std::pair<TimePoint, TimePoint> around_now() {
  const auto now = std::chrono::system_clock::now();
  return {now - 1h, now + 1h};
}

void post_json(const std::string& url, const json& body) {
  auto r = herald::test::http("POST", url, "", body.dump(), {{"Content-Type", "application/json"}});
  INFO(r.body);
  REQUIRE(r.status == 200);
}

}  // namespace

TEST_CASE("marker_in finds the delivery marker in a status, a URL or HTML",
          "[adapters][reconcile]") {
  Delivery d;
  d.id = "01m8ks85kmf3g8d08sexpmwvhe.weibo";
  const std::string marker = d.marker();
  CHECK(herald::marker_in("提醒 https://www.example.gov.cn/a/1?" + marker) == marker);
  CHECK(herald::marker_in("https://x.example/a?b=1&" + marker + "#top") == marker);
  CHECK(herald::marker_in("<p>正文</p><!--" + marker + "-->") == marker);
  CHECK(herald::marker_in("no marker here") == "");
  CHECK(herald::marker_in("?shd=0123456789ab") == "");     // another parameter
  CHECK(herald::marker_in("?hd=0123456789abcdef") == "");  // too many digits: not ours
  CHECK(herald::marker_in("?hd=0123456789") == "");        // too few
  CHECK(herald::marker_in("?hd=0123456789AB") == "");      // ours are lower case
  CHECK(herald::marker_in("hd=zz&hd=0123456789ab") == "hd=0123456789ab");
}

TEST_CASE("parse_weibo_time reads Weibo's created_at with its offset", "[adapters][weibo]") {
  const auto t = herald::parse_weibo_time("Tue May 31 17:46:55 +0800 2011");
  REQUIRE(t);
  CHECK(*t == time_at("2011-05-31T17:46:55+08:00"));
  CHECK(herald::parse_weibo_time("Wed Oct 24 23:49:17 -0130 2012") ==
        time_at("2012-10-24T23:49:17-01:30"));
  CHECK_FALSE(herald::parse_weibo_time(""));
  CHECK_FALSE(herald::parse_weibo_time("2011-05-31 17:46:55"));
  CHECK_FALSE(herald::parse_weibo_time("Tue Foo 31 17:46:55 +0800 2011"));
  CHECK_FALSE(herald::parse_weibo_time("Tue Feb 30 17:46:55 +0800 2011"));
  // Years no clock holds, and digits enough to overflow an int: refused, not undefined behaviour.
  CHECK_FALSE(herald::parse_weibo_time("Fri Dec 31 23:59:59 +0800 9999"));
  CHECK_FALSE(herald::parse_weibo_time("Tue May 31 17:46:55 +0800 99999999999"));
  CHECK_FALSE(herald::parse_weibo_time("Tue May 99999999999 17:46:55 +0800 2011"));
}

TEST_CASE("a channel that cannot list says so", "[adapters][reconcile]") {
  struct Plain final : herald::Channel {
    Plain() : Channel("plain") {}
    herald::Task<herald::Result<herald::PublishReceipt>> do_publish(const Delivery&) override {
      co_return herald::PublishReceipt{"x"};
    }
  } plain;
  const auto [from, to] = around_now();
  auto listed = plain.list_published(from, to, {});
  REQUIRE_FALSE(listed);
  CHECK(listed.error().code == "list_unsupported");
  CHECK(listed.error().kind == herald::ErrorKind::permanent);
}

TEST_CASE("WeiboChannel lists the account's timeline with markers and times",
          "[adapters][weibo][sim][reconcile]") {
  auto sim = herald::test::start_sim();
  herald::WeiboSettings s;
  s.api_base = sim.url;
  s.access_token = "weibo-sim-token";
  s.safe_domain = kDomain;
  s.rip = "10.1.2.3";
  s.timeout = 5000ms;
  post_json(sim.url + "/_sim/config", {{"weibo_safe_domain", kDomain}});
  herald::SystemClock clock;
  herald::WeiboChannel channel(s, clock, nullptr);

  const Delivery first = delivery_for(item_json("w1", "第一条"), "weibo");
  const Delivery second = delivery_for(item_json("w2", "第二条"), "weibo");
  auto a = channel.publish(first);
  auto b = channel.publish(second);
  REQUIRE(a);
  REQUIRE(b);
  // A post made on Weibo by hand: no marker.
  auto by_hand = herald::test::http(
      "POST", sim.url + "/2/statuses/share.json", "",
      "access_token=weibo-sim-token&rip=10.1.2.3&status=%E6%89%8B%E5%B7%A5+https%3A%2F%2F" +
          std::string(kDomain) + "%2Fa%2F9",
      {{"Content-Type", "application/x-www-form-urlencoded"}});
  REQUIRE(by_hand.status == 200);
  const std::string hand_id = herald::test::json_of(by_hand).at("idstr");

  const auto [from, to] = around_now();
  auto listed = channel.list_published(from, to, {});
  REQUIRE(listed);
  REQUIRE(listed->records.size() == 3);
  const PlatformRecord* one = find(*listed, a->remote_id);
  REQUIRE(one != nullptr);
  CHECK(one->marker == first.marker());
  CHECK_FALSE(one->withdrawn);
  REQUIRE(one->at);
  CHECK(*one->at >= from);
  CHECK(*one->at <= to);
  REQUIRE(find(*listed, b->remote_id) != nullptr);
  CHECK(find(*listed, b->remote_id)->marker == second.marker());
  REQUIRE(find(*listed, hand_id) != nullptr);
  CHECK(find(*listed, hand_id)->marker.empty());
  CHECK_FALSE(listed->complete_from);

  SECTION("a deleted post is no longer listed") {
    REQUIRE(channel.recall(first, a->remote_id));
    auto again = channel.list_published(from, to, {});
    REQUIRE(again);
    CHECK(again->records.size() == 2);
    CHECK(find(*again, a->remote_id) == nullptr);
  }
  SECTION("posts outside the period are left out") {
    auto before = channel.list_published(from - 48h, from - 24h, {});
    REQUIRE(before);
    CHECK(before->records.empty());
  }
  SECTION("a wrong token is the channel's error, not an empty list") {
    herald::WeiboSettings wrong = s;
    wrong.access_token = "not-the-token";
    herald::WeiboChannel other(wrong, clock, nullptr);
    auto refused = other.list_published(from, to, {});
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == "weibo_21332");
  }
}

TEST_CASE("WechatChannel lists published articles and checks the broadcasts it holds",
          "[adapters][wechat][sim][reconcile]") {
  auto sim = herald::test::start_sim();
  herald::RedisPool pool(herald::test::test_redis_options(), 2);
  herald::SystemClock clock;
  herald::RedisTokenCacheOptions token_options;
  token_options.prefix = herald::test::unique_key_prefix("wechat-list");
  herald::RedisTokenCache tokens(token_options, pool, clock);
  herald::WechatSettings s;
  s.api_base = sim.url;
  s.appid = "wx5e1a1d0000000001";  // herald-sim's defaults
  s.secret = "wechat-sim-secret";
  s.timeout = 5000ms;
  s.author = "外事办";
  s.publish_poll = {50ms, 100ms};
  herald::WechatChannel channel(s, clock, &tokens);
  post_json(sim.url + "/_sim/config", {{"wechat_publish_delay_ms", 0}});

  const json article = item_json("x1", "工作动态");
  const Delivery article_delivery = delivery_for(article, "wechat");
  herald::Result<herald::PublishReceipt> published = herald::Error::permanent("not yet");
  for (int attempt = 1; attempt <= 20; ++attempt) {
    published = channel.publish(delivery_for(article, "wechat", attempt));
    if (published || published.error().code != "wechat_publishing") break;
    // A dispatcher would wait the same before it looks again.
    std::this_thread::sleep_for(published.error().retry_after.value_or(10ms));
  }
  INFO((published ? "" : published.error().message));
  REQUIRE(published);
  REQUIRE(published->remote_id.rfind("article:", 0) == 0);
  const Delivery alert_delivery = delivery_for(item_json("x2", "提醒", "alert"), "wechat");
  auto broadcast = channel.publish(alert_delivery);
  REQUIRE(broadcast);
  REQUIRE(broadcast->remote_id.rfind("mass:", 0) == 0);

  const std::vector<HeldDelivery> held = {{article_delivery.id, published->remote_id},
                                          {alert_delivery.id, broadcast->remote_id},
                                          {"gone.wechat", "mass:999999"},
                                          {"odd.wechat", "mass:"}};
  const auto [from, to] = around_now();
  auto listed = channel.list_published(from, to, held);
  REQUIRE(listed);
  const PlatformRecord* a = find(*listed, published->remote_id);
  REQUIRE(a != nullptr);
  CHECK(a->marker == article_delivery.marker());
  CHECK_FALSE(a->withdrawn);
  REQUIRE(a->at);
  const PlatformRecord* m = find(*listed, broadcast->remote_id);
  REQUIRE(m != nullptr);
  CHECK_FALSE(m->withdrawn);
  CHECK_FALSE(m->at);                              // mass/get says nothing of time
  CHECK(find(*listed, "mass:999999") == nullptr);  // unknown to WeChat: absent
  CHECK(listed->unverifiable == std::vector<std::string>{"odd.wechat"});
  REQUIRE_FALSE(listed->notes.empty());
  CHECK(listed->notes.back().find("broadcasts") != std::string::npos);

  SECTION("withdrawn ones stay listed as withdrawn") {
    REQUIRE(channel.recall(article_delivery, published->remote_id));
    REQUIRE(channel.recall(alert_delivery, broadcast->remote_id));
    auto again = channel.list_published(from, to, held);
    REQUIRE(again);
    REQUIRE(find(*again, published->remote_id) != nullptr);
    CHECK(find(*again, published->remote_id)->withdrawn);
    REQUIRE(find(*again, broadcast->remote_id) != nullptr);
    CHECK(find(*again, broadcast->remote_id)->withdrawn);
  }
  SECTION("articles outside the period are left out") {
    auto later = channel.list_published(to + 24h, to + 48h, {});
    REQUIRE(later);
    CHECK(later->records.empty());
  }
}

TEST_CASE("PortalChannel lists the portal's submissions, signed, page by page",
          "[adapters][portal][sim][reconcile]") {
  constexpr const char* kKey = "portal-list-key";
  auto sim = herald::test::start_sim({"--portal-key", kKey});
  herald::PortalSettings s;
  s.url = sim.url;
  s.hmac_key = kKey;
  s.app_id = "herald-test";
  s.org_code = "11510000MB0000000X";
  s.column = "zwdt";
  s.field_map = herald::portal_default_field_map();
  s.status_poll_interval = 10ms;
  s.timeout = 5000ms;
  herald::SystemClock clock;
  herald::PortalChannel channel(s, clock);

  std::vector<Delivery> deliveries;
  std::vector<std::string> ids;
  // More than one page of 100.
  for (int i = 0; i < 103; ++i) {
    deliveries.push_back(delivery_for(item_json("p" + std::to_string(i), "公告"), "portal"));
    auto receipt = channel.publish(deliveries.back());
    INFO((receipt ? "" : receipt.error().message));
    REQUIRE(receipt);
    ids.push_back(receipt->remote_id);
  }
  REQUIRE(channel.recall(deliveries[1], ids[1]));

  const auto [from, to] = around_now();
  auto listed = channel.list_published(from, to, {});
  INFO((listed ? "" : listed.error().message));
  REQUIRE(listed);
  CHECK(listed->records.size() == 103);
  const PlatformRecord* first = find(*listed, ids[0]);
  REQUIRE(first != nullptr);
  CHECK(first->marker == deliveries[0].marker());  // from its Idempotency-Key
  CHECK_FALSE(first->withdrawn);
  REQUIRE(first->at);
  REQUIRE(find(*listed, ids[1]) != nullptr);
  CHECK(find(*listed, ids[1])->withdrawn);
  REQUIRE(find(*listed, ids[102]) != nullptr);

  auto earlier = channel.list_published(from - 48h, from - 24h, {});
  REQUIRE(earlier);
  CHECK(earlier->records.empty());
}

TEST_CASE("MediaChannel lists its own feeds' entries", "[adapters][media][reconcile]") {
  herald::RedisPool pool(herald::test::test_redis_options(), 2);
  herald::RedisFeedStore store(herald::test::unique_key_prefix("media-list"), pool);
  herald::SystemClock clock;
  auto settings = herald::parse_media_settings({{"public_base_url", "https://feeds.example.gov.cn"},
                                                {"feeds",
                                                 {{{"name", "news"},
                                                   {"title", "新闻"},
                                                   {"categories", {"work_news"}},
                                                   {"max_entries", 3}}}}},
                                               "channels.media");
  REQUIRE(settings);
  herald::MediaChannel channel(std::move(*settings), &store, clock);

  auto media_item = [](const std::string& id, const std::string& category) {
    herald::Item item;
    item.id = id;
    item.kind = herald::ItemKind::publication;
    item.category = *herald::category_from_string(category);
    item.title = "标题 " + id;
    item.body = "正文";
    item.channels = {"media"};
    Delivery d;
    d.item_id = id;
    d.channel = "media";
    d.id = herald::delivery_id_for(id, "media");
    d.kind = herald::DeliveryKind::publication;
    d.category = category;
    d.attempt = 1;
    d.payload = herald::item_to_json(item).dump();
    return d;
  };
  const Delivery news = media_item("m1", "work_news");
  const Delivery other = media_item("m2", "work_news");
  const Delivery finance = media_item("m3", "finance");  // no feed takes it
  for (const Delivery* d : {&news, &other, &finance}) REQUIRE(channel.publish(*d));
  const std::vector<HeldDelivery> held = {
      {news.id, "feeds:m1"}, {other.id, "feeds:m2"}, {finance.id, "feeds:m3"}};
  const auto [from, to] = around_now();
  auto listed = channel.list_published(from, to, held);
  REQUIRE(listed);
  CHECK(listed->records.size() == 2);
  REQUIRE(find(*listed, "feeds:m1") != nullptr);
  CHECK_FALSE(find(*listed, "feeds:m1")->withdrawn);
  CHECK(listed->unverifiable == std::vector<std::string>{finance.id});
  CHECK_FALSE(listed->complete_from);  // the feed is not full

  SECTION("a retracted entry leaves the feed: absent, and still verifiable") {
    Delivery recall;
    recall.id = "m1-recall.media";
    recall.item_id = "m1";
    recall.channel = "media";
    recall.kind = herald::DeliveryKind::retraction;
    recall.attempt = 1;
    recall.payload = json{{"op", "recall"}, {"target", news.id}, {"reason", "撤回"}}.dump();
    REQUIRE(channel.recall(recall, "feeds:m1"));
    auto again = channel.list_published(from, to, held);
    REQUIRE(again);
    CHECK(find(*again, "feeds:m1") == nullptr);
    CHECK(again->unverifiable == std::vector<std::string>{finance.id});
  }
  SECTION("a full feed is complete only from its oldest entry") {
    REQUIRE(channel.publish(media_item("m4", "work_news")));
    auto again = channel.list_published(from, to, held);
    REQUIRE(again);
    REQUIRE(again->complete_from);
    CHECK(*again->complete_from <= to);
  }
}
