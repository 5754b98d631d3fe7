// Tests for adapters/media/media_channel: config validation, and the channel end to end against a
// real redis-server (RedisFeedStore) and herald-sim (webhooks, the WebSub hub, the SMTP sink):
// feeds and CAP documents written, each push done once, a retry sending only what is left,
// corrections as CAP Update, recalls as CAP Cancel.
#include <atomic>
#include <catch2/catch.hpp>
#include <future>
#include <memory>

#include "adapters/media/media_channel.h"
#include "queue/redis_feed_store.h"
#include "tests/adapters/scripted_http_server.h"
#include "tests/support/gate.h"
#include "tests/support/herald_processes.h"
#include "tests/support/process.h"
#include "tests/support/redis_server.h"

using herald::Delivery;
using herald::ErrorKind;
using herald::FeedEntry;
using herald::MediaChannel;
using herald::test::ScriptedHttpServer;
using herald::test::ScriptedRequest;
using herald::test::ScriptedResponse;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kSecret = "media-hook-secret";
constexpr const char* kBase = "https://www.example.gov.cn";

json media_section(const herald::test::SimHandle& sim, json extra_hooks = json::array()) {
  json hooks = json::array({{{"url", sim.url + "/hooks/media-desk"}, {"secret", kSecret}}});
  for (auto& h : extra_hooks) hooks.push_back(h);
  return {{"public_base_url", std::string(kBase) + "/"},
          {"author", "XX省人民政府外事办公室"},
          {"cap", {{"sender", "herald@fao.example.gov.cn"}}},
          {"feeds",
           {{{"name", "news"}, {"title", "新闻"}, {"max_entries", 3}},
            {{"name", "notices"}, {"title", "公告"}, {"kinds", {"publication"}}}}},
          {"websub", {{"hub", sim.url + "/websub/hub"}}},
          {"smtp",
           {{"url", "smtp://127.0.0.1:" + std::to_string(sim.smtp_port)},
            {"from", "herald@fao.example.gov.cn"},
            {"to", {"desk@news.example", "night@slow.example"}}}},
          {"webhooks", std::move(hooks)}};
}

herald::Item alert_item(const std::string& id, const std::string& title) {
  herald::Item item;
  item.id = id;
  item.kind = herald::ItemKind::alert;
  item.category = herald::Category::overseas_safety;
  item.title = title;
  item.body = "近期泰国南部安全形势严峻 & 复杂。";
  item.summary = "提醒中国公民注意安全";
  item.link = "https://www.example.gov.cn/alerts/" + id;
  item.channels = {"media"};
  item.alert = herald::AlertInfo{"reconsider",         "Severe",     "Immediate", "Likely",
                                 {{"TH", "泰国南部"}}, std::nullopt, "12308"};
  return item;
}

Delivery delivery_for(const herald::Item& item, int attempt = 1) {
  Delivery d;
  d.item_id = item.id;
  d.channel = "media";
  d.id = herald::delivery_id_for(item.id, "media");
  d.kind = !item.corrects.empty()                 ? herald::DeliveryKind::correction
           : item.kind == herald::ItemKind::alert ? herald::DeliveryKind::alert
                                                  : herald::DeliveryKind::publication;
  d.category = herald::to_string(item.category);
  d.attempt = attempt;
  d.payload = herald::item_to_json(item).dump();
  return d;
}

Delivery recall_for(const std::string& item_id, const std::string& reason) {
  Delivery d;
  d.id = item_id + "-recall.media";
  d.item_id = item_id;
  d.channel = "media";
  d.kind = herald::DeliveryKind::retraction;
  d.lane = herald::Lane::alert;
  d.attempt = 1;
  d.payload = json{{"op", "recall"}, {"target", item_id + ".media"}, {"reason", reason}}.dump();
  return d;
}

// One test's world: its own Redis keys, a herald-sim with the SMTP sink, the channel.
struct World {
  herald::test::SimHandle sim = herald::test::start_sim_with_smtp();
  herald::RedisPool pool{herald::test::test_redis_options(), 2};
  herald::RedisFeedStore store{herald::test::unique_key_prefix("media"), pool};
  herald::SystemClock clock;
  std::unique_ptr<MediaChannel> channel;

  explicit World(json extra_hooks = json::array()) {
    auto settings =
        herald::parse_media_settings(media_section(sim, std::move(extra_hooks)), "channels.media");
    REQUIRE(settings);
    channel = std::make_unique<MediaChannel>(std::move(*settings), &store, clock);
  }

  json published(const std::string& platform) const {
    return herald::test::sim_published(sim.url, platform);
  }
  void set_faults(const std::string& spec) const {
    auto r = herald::test::http("POST", sim.url + "/_sim/faults", "", json{{"spec", spec}}.dump(),
                                {{"Content-Type", "application/json"}});
    REQUIRE(r.status == 200);
  }
  std::vector<FeedEntry> feed(const std::string& name) {
    auto entries = store.newest_entries(name, 10);
    REQUIRE(entries);
    return *entries;
  }
  std::string cap_xml(const std::string& id) {
    auto record = store.cap(id);
    REQUIRE(record);
    REQUIRE(record->has_value());
    return (*record)->xml;
  }
};

}  // namespace

TEST_CASE("SMTP credentials are refused over smtp:// unless STARTTLS is required",
          "[media][config][secrets]") {
  const json base = {{"public_base_url", "https://www.example.gov.cn"},
                     {"feeds", {{{"name", "news"}, {"title", "新闻"}}}}};
  auto with_smtp = [&](json smtp) {
    json section = base;
    smtp["from"] = "herald@example.gov.cn";
    smtp["to"] = {"desk@media.example"};
    section["smtp"] = std::move(smtp);
    return herald::parse_media_settings(section, "channels.media");
  };
  SECTION("refused: a password or a user over plain smtp://, or credentials in the url") {
    auto password =
        with_smtp({{"url", "smtp://mail:25"}, {"username", "u"}, {"password", "pw-9x"}});
    REQUIRE_FALSE(password);
    CHECK(password.error().field == "channels.media.smtp.password");
    CHECK_THAT(password.error().message, Catch::Contains("starttls"));
    CHECK_THAT(password.error().message, !Catch::Contains("pw-9x"));
    auto user = with_smtp({{"url", "smtp://mail:25"}, {"username", "u"}, {"starttls", false}});
    REQUIRE_FALSE(user);
    CHECK(user.error().field == "channels.media.smtp.username");
    auto in_url = with_smtp({{"url", "smtp://u:pw-9x@mail:25"}, {"starttls", true}});
    REQUIRE_FALSE(in_url);
    CHECK(in_url.error().field == "channels.media.smtp.url");
    CHECK_THAT(in_url.error().message, !Catch::Contains("pw-9x"));
  }
  SECTION("accepted: STARTTLS required, smtps://, or no credentials") {
    auto starttls = with_smtp(
        {{"url", "smtp://mail:587"}, {"starttls", true}, {"username", "u"}, {"password", "pw"}});
    REQUIRE(starttls);
    CHECK(starttls->smtp->options.starttls);
    CHECK(with_smtp({{"url", "smtps://mail:465"}, {"username", "u"}, {"password", "pw"}}));
    CHECK(with_smtp({{"url", "smtp://mail:25"}}));
  }
}

TEST_CASE("the media section is validated key by key", "[media][config]") {
  const json base = {{"public_base_url", "https://www.example.gov.cn"},
                     {"feeds", {{{"name", "news"}, {"title", "新闻"}}}}};
  auto error_field = [](const json& section) {
    auto parsed = herald::parse_media_settings(section, "channels.media");
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().kind == ErrorKind::invalid_input);
    return parsed.error().field;
  };
  SECTION("a minimal section is accepted, with defaults") {
    auto parsed = herald::parse_media_settings(base, "channels.media");
    REQUIRE(parsed);
    CHECK(parsed->cap_sender == "herald@www.example.gov.cn");
    CHECK(parsed->feeds.at(0).max_entries == 50);
    CHECK_FALSE(parsed->smtp.has_value());
  }
  SECTION("each bad key is named") {
    json bad = base;
    bad["public_base_url"] = "ftp://x";
    CHECK(error_field(bad) == "channels.media.public_base_url");
    bad = base;
    bad["feeds"][0]["name"] = "News Feed";
    CHECK(error_field(bad) == "channels.media.feeds[0].name");
    bad = base;
    bad["feeds"].push_back({{"name", "news"}, {"title", "again"}});
    CHECK(error_field(bad) == "channels.media.feeds[1].name");
    bad = base;
    bad["feeds"][0]["kinds"] = {"alert", "rumour"};
    CHECK(error_field(bad) == "channels.media.feeds[0].kinds[1]");
    bad = base;
    bad["feeds"][0]["categories"] = {"gossip"};
    CHECK(error_field(bad) == "channels.media.feeds[0].categories[0]");
    bad = base;
    bad["websub"] = {{"hubb", "https://hub.example.com"}};
    CHECK(error_field(bad) == "channels.media.websub.hub");
    bad = base;
    bad["smtp"] = {{"url", "http://mail"}, {"from", "a@b"}, {"to", {"c@d"}}};
    CHECK(error_field(bad) == "channels.media.smtp.url");
    bad = base;
    bad["smtp"] = {{"url", "smtp://mail:25"}, {"from", "a@b"}, {"to", json::array()}};
    CHECK(error_field(bad) == "channels.media.smtp.to");
    bad = base;
    bad["smtp"] = {{"url", "smtp://mail:25"}, {"from", "a@b"}, {"to", {"c@d"}}, {"tls", true}};
    CHECK(error_field(bad) == "channels.media.smtp.tls");
    bad = base;
    bad["webhooks"] = {{{"urll", "https://x.example"}, {"secret", "s"}}};
    CHECK(error_field(bad) == "channels.media.webhooks[0].url");
    bad = base;
    bad["cap"] = {{"sender", "a,b"}};
    CHECK(error_field(bad) == "channels.media.cap.sender");
    bad = base;
    bad["feed"] = json::array();
    CHECK(error_field(bad) == "channels.media.feed");
  }
}

TEST_CASE("a WebSub hub's answer is classified as the reference says", "[media]") {
  CHECK(herald::classify_websub_response(204, ""));
  CHECK(herald::classify_websub_response(503, "").error().kind == ErrorKind::retryable);
  CHECK(herald::classify_websub_response(408, "").error().kind == ErrorKind::retryable);
  CHECK(herald::classify_websub_response(429, "").error().kind == ErrorKind::deferred);
  const auto refused = herald::classify_websub_response(400, "bad hub.url");
  CHECK(refused.error().kind == ErrorKind::permanent);
  CHECK(refused.error().code == "websub_400");
}

TEST_CASE("an alert reaches the feeds, the CAP feed, the hub, the desks and the webhook once",
          "[media][sim]") {
  World w;
  const auto item = alert_item("01jd6v3m00000000000000000a", "泰国南部安全提醒");
  auto receipt = w.channel->publish(delivery_for(item));
  REQUIRE(receipt);
  CHECK(receipt->remote_id == "feeds:" + item.id);

  SECTION("the feeds hold it where their filters allow") {
    const auto cap_feed = w.feed(herald::kCapFeedName);
    REQUIRE(cap_feed.size() == 1);
    CHECK(cap_feed[0].cap_id == item.id);
    CHECK(cap_feed[0].msg_type == "Alert");
    REQUIRE(w.feed("news").size() == 1);
    CHECK(w.feed("news")[0].title == "泰国南部安全提醒");
    CHECK(w.feed("notices").empty());  // publications only
    const std::string xml = w.cap_xml(item.id);
    CHECK(xml.find("<identifier>" + item.id + "</identifier>") != std::string::npos);
    CHECK(xml.find("<sender>herald@fao.example.gov.cn</sender>") != std::string::npos);
    CHECK(xml.find("<msgType>Alert</msgType>") != std::string::npos);
    CHECK(xml.find("<severity>Severe</severity>") != std::string::npos);
    CHECK(xml.find("+08:00</sent>") != std::string::npos);
  }
  SECTION("each push arrived once") {
    const json hub = w.published("websub");
    REQUIRE(hub["count"] == 1);
    const auto urls = hub["items"][0]["urls"].get<std::vector<std::string>>();
    CHECK(std::find(urls.begin(), urls.end(), std::string(kBase) + "/feeds/alerts.cap.atom") !=
          urls.end());
    CHECK(std::find(urls.begin(), urls.end(), std::string(kBase) + "/feeds/news.rss") !=
          urls.end());
    CHECK(std::find(urls.begin(), urls.end(), std::string(kBase) + "/feeds/notices.rss") ==
          urls.end());

    const json hooks = w.published("webhook");
    REQUIRE(hooks["count"] == 1);
    CHECK(hooks["items"][0]["name"] == "media-desk");
    CHECK(hooks["items"][0]["body"]["item"]["id"] == item.id);

    const json mail = w.published("smtp");
    REQUIRE(mail["count"] == 1);
    CHECK(mail["items"][0]["recipients"].size() == 2);
    CHECK(mail["items"][0]["subject"].get<std::string>().find("泰国南部安全提醒") !=
          std::string::npos);
  }
  SECTION("publishing the same delivery again repeats nothing") {
    auto version = w.store.version("news");
    REQUIRE(version);
    auto again = w.channel->publish(delivery_for(item, 2));
    REQUIRE(again);
    CHECK(again->remote_id == receipt->remote_id);
    CHECK(w.published("websub")["count"] == 1);
    CHECK(w.published("webhook")["count"] == 1);
    CHECK(w.published("webhook")["duplicates"] == 0);
    CHECK(w.published("smtp")["count"] == 1);
    auto version_after = w.store.version("news");
    REQUIRE(version_after);
    CHECK(*version_after == *version);
  }
}

TEST_CASE("a retry sends only the pushes that failed", "[media][sim]") {
  std::atomic<int> calls{0};
  ScriptedHttpServer flaky([&calls](const ScriptedRequest&) {
    return ScriptedResponse{++calls == 1 ? 503 : 200, {}, R"({"id":"flaky-1"})"};
  });
  World w(json::array({{{"url", flaky.url() + "/hook"}, {"secret", kSecret}}}));
  w.set_faults("websub:fail_next=1;smtp:rcpt_450=*@slow.example");
  const auto item = alert_item("01jd6v3m00000000000000000b", "缅甸北部安全提醒");

  auto first = w.channel->publish(delivery_for(item));
  REQUIRE_FALSE(first);
  CHECK(first.error().kind == ErrorKind::retryable);
  // Written and delivered where nothing failed.
  CHECK(w.feed("news").size() == 1);
  CHECK(w.published("webhook")["count"] == 1);
  CHECK(w.published("websub")["count"] == 0);
  REQUIRE(w.published("smtp")["count"] == 1);
  CHECK(w.published("smtp")["items"][0]["recipients"] == json::array({"desk@news.example"}));

  w.set_faults("");
  auto second = w.channel->publish(delivery_for(item, 2));
  REQUIRE(second);
  CHECK(calls == 2);
  CHECK(w.published("webhook")["count"] == 1);
  CHECK(w.published("webhook")["duplicates"] == 0);
  CHECK(w.published("websub")["count"] == 1);
  const json mail = w.published("smtp");
  REQUIRE(mail["count"] == 2);
  CHECK(mail["items"][1]["recipients"] == json::array({"night@slow.example"}));
  // The e-mail is the same message both times: desks can dedupe on its Message-ID.
  CHECK(mail["items"][0]["message_id"] == mail["items"][1]["message_id"]);
  CHECK(w.feed("news").size() == 1);
}

TEST_CASE("two attempts holding the same delivery at once never push a step twice",
          "[media][sim]") {
  // A lease taken over from a worker that is still running: attempt A is inside a slow webhook
  // when attempt B starts on the same delivery.
  herald::test::Gate slow_hook_answers;
  std::atomic<int> calls{0};
  ScriptedHttpServer slow([&](const ScriptedRequest&) {
    ++calls;
    slow_hook_answers.wait();
    return ScriptedResponse{200, {}, R"({"id":"slow-1"})"};
  });
  World w(json::array({{{"url", slow.url() + "/hook"}, {"secret", kSecret}}}));
  const auto item = alert_item("01jd6v3m00000000000000000e", "提醒");
  Delivery a = delivery_for(item, 1);
  a.lease_token = "lease-a";
  Delivery b = delivery_for(item, 2);
  b.lease_token = "lease-b";

  auto first = std::async(std::launch::async, [&] { return w.channel->publish(a); });
  REQUIRE(herald::test::wait_until([&] { return calls.load() == 1; }, 10s));
  auto second = w.channel->publish(b);
  REQUIRE_FALSE(second);
  CHECK(second.error().kind == ErrorKind::retryable);
  CHECK(second.error().code == "media_step_busy");
  CHECK(calls == 1);

  slow_hook_answers.open();
  REQUIRE(first.get());
  b.attempt = 3;
  REQUIRE(w.channel->publish(b));  // B's retry finds every step done
  CHECK(calls == 1);
  CHECK(w.published("webhook")["count"] == 1);
  CHECK(w.published("websub")["count"] == 1);
  CHECK(w.published("smtp")["count"] == 1);
}

TEST_CASE("a permanently refused recipient does not hold the delivery back", "[media][sim]") {
  World w;
  w.set_faults("smtp:rcpt_550=*@slow.example");
  const auto item = alert_item("01jd6v3m00000000000000000c", "提醒");
  REQUIRE(w.channel->publish(delivery_for(item)));
  w.set_faults("");
  REQUIRE(w.channel->publish(delivery_for(item, 2)));
  const json mail = w.published("smtp");
  REQUIRE(mail["count"] == 1);
  CHECK(mail["items"][0]["recipients"] == json::array({"desk@news.example"}));
}

TEST_CASE("a correction becomes a CAP Update of the original and replaces its entry",
          "[media][sim]") {
  World w;
  const auto original = alert_item("01jd6v3m00000000000000000d", "原标题");
  REQUIRE(w.channel->publish(delivery_for(original)));
  auto correction = alert_item("01jd6v3m00000000000000000e", "更正后的标题");
  correction.corrects = original.id;
  auto receipt = w.channel->publish(delivery_for(correction));
  REQUIRE(receipt);
  CHECK(receipt->remote_id == "feeds:" + original.id);

  const std::string original_xml = w.cap_xml(original.id);
  const auto sent_at = original_xml.find("<sent>") + 6;
  const std::string original_sent = original_xml.substr(sent_at, 25);
  const std::string update = w.cap_xml(correction.id);
  CHECK(update.find("<msgType>Update</msgType>") != std::string::npos);
  CHECK(update.find("<references>herald@fao.example.gov.cn," + original.id + "," + original_sent +
                    "</references>") != std::string::npos);
  CHECK(update.find("<headline>更正后的标题</headline>") != std::string::npos);

  const auto news = w.feed("news");
  REQUIRE(news.size() == 1);  // the same entry, updated: Atom keeps its id
  CHECK(news[0].id == original.id);
  CHECK(news[0].title == "更正后的标题");
  const auto cap_feed = w.feed(herald::kCapFeedName);
  REQUIRE(cap_feed.size() == 1);
  CHECK(cap_feed[0].cap_id == correction.id);
  CHECK(cap_feed[0].msg_type == "Update");
  const json mail = w.published("smtp");
  REQUIRE(mail["count"] == 2);
  CHECK(mail["items"][1]["subject"].get<std::string>().find("更正") != std::string::npos);
}

TEST_CASE("a recall publishes a CAP Cancel of the whole chain and empties the feeds",
          "[media][sim]") {
  World w;
  const auto original = alert_item("01jd6v3m00000000000000000f", "将被撤回的提醒");
  REQUIRE(w.channel->publish(delivery_for(original)));
  auto correction = alert_item("01jd6v3m00000000000000000g", "更正");
  correction.corrects = original.id;
  REQUIRE(w.channel->publish(delivery_for(correction)));

  const Delivery recall = recall_for(original.id, "情况已变化");
  REQUIRE(w.channel->recall(recall, "feeds:" + original.id));
  const std::string cancel = w.cap_xml(original.id + "-cancel");
  CHECK(cancel.find("<msgType>Cancel</msgType>") != std::string::npos);
  CHECK(cancel.find("<note>撤回:情况已变化</note>") != std::string::npos);
  const auto refs = cancel.find("<references>");
  REQUIRE(refs != std::string::npos);
  CHECK(cancel.find("," + original.id + ",", refs) != std::string::npos);
  CHECK(cancel.find(" herald@fao.example.gov.cn," + correction.id + ",", refs) !=
        std::string::npos);
  CHECK(cancel.find("<info>") == std::string::npos);

  CHECK(w.feed("news").empty());
  const auto cap_feed = w.feed(herald::kCapFeedName);
  REQUIRE(cap_feed.size() == 1);
  CHECK(cap_feed[0].msg_type == "Cancel");
  CHECK(cap_feed[0].title == "撤回:更正");

  CHECK(w.published("websub")["count"] == 3);
  const json hooks = w.published("webhook");
  REQUIRE(hooks["count"] == 3);
  CHECK(hooks["items"][2]["body"]["item"]["op"] == "recall");

  SECTION("recalling again repeats nothing") {
    REQUIRE(w.channel->recall(recall, "feeds:" + original.id));
    CHECK(w.published("websub")["count"] == 3);
    CHECK(w.published("webhook")["count"] == 3);
    CHECK(w.published("smtp")["count"] == 3);
  }
}

TEST_CASE("a feed keeps only its newest entries", "[media][sim]") {
  World w;
  for (char c : std::string("hjkmn")) {
    herald::Item item = alert_item(std::string("01jd6v3m0000000000000000") + "0" + c, "提醒");
    item.kind = herald::ItemKind::publication;
    item.category = herald::Category::work_news;
    item.alert.reset();
    REQUIRE(w.channel->publish(delivery_for(item)));
  }
  const auto news = w.feed("news");  // max_entries 3
  REQUIRE(news.size() == 3);
  CHECK(w.feed("notices").size() == 5);
  CHECK(w.feed(herald::kCapFeedName).empty());
}

TEST_CASE("a drill is marked 【演练】 in the feeds, the CAP headline and the e-mail",
          "[media][sim]") {
  World w;
  auto item = alert_item("01jd6v3m00000000000000000d", "泰国南部安全提醒");
  item.status = "exercise";
  REQUIRE(w.channel->publish(delivery_for(item)));

  REQUIRE(w.feed("news").size() == 1);
  CHECK(w.feed("news")[0].title == "【演练】泰国南部安全提醒");
  CHECK(w.feed("news")[0].summary == "【演练】提醒中国公民注意安全");
  const std::string xml = w.cap_xml(item.id);
  CHECK(xml.find("<status>Exercise</status>") != std::string::npos);
  CHECK(xml.find("<headline>【演练】泰国南部安全提醒</headline>") != std::string::npos);
  const json mail = w.published("smtp");
  REQUIRE(mail["count"] == 1);
  CHECK_THAT(mail["items"][0]["subject"].get<std::string>(),
             Catch::StartsWith("【演练】【海外安全提醒】泰国南部安全提醒"));
}
