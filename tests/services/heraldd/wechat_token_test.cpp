// Token sharing across processes: two heraldd on one Redis both publish WeChat deliveries to
// herald-sim, and between them herald-sim sees exactly one stable_token fetch (DESIGN.md §3 "Many
// instances": the access token lives in Redis, not per process).
#include <signal.h>

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/item.h"
#include "queue/delivery_queue.h"
#include "queue/redis.h"
#include "queue/redis_token_cache.h"
#include "tests/support/herald_processes.h"
#include "tests/support/redis_server.h"

using namespace herald;
using namespace herald::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr int kDeliveries = 24;

std::vector<NewDelivery> wechat_deliveries(const std::string& tag) {
  std::vector<NewDelivery> out;
  for (int i = 0; i < kDeliveries; ++i) {
    Item item;
    item.id = tag + std::to_string(i);
    // Alerts are broadcast and publications published (mode auto): both paths use the token.
    const bool alert = i % 2 == 0;
    item.kind = alert ? ItemKind::alert : ItemKind::publication;
    item.category = alert ? Category::overseas_safety : Category::work_news;
    item.title = alert ? "安全提醒" + std::to_string(i) : "工作动态" + std::to_string(i);
    item.summary = "摘要";
    item.body = "正文";
    item.link = "https://www.example.gov.cn/items/" + item.id;
    item.channels = {"wechat"};
    NewDelivery nd;
    nd.delivery.id = delivery_id_for(item.id, "wechat");
    nd.delivery.item_id = item.id;
    nd.delivery.channel = "wechat";
    nd.delivery.lane = alert ? Lane::alert : Lane::routine;
    nd.delivery.kind = alert ? herald::DeliveryKind::alert : herald::DeliveryKind::publication;
    nd.delivery.category = to_string(item.category);
    nd.delivery.payload = item_to_json(item).dump();
    out.push_back(std::move(nd));
  }
  return out;
}

json wechat_config(const std::string& prefix, const std::string& sim_url) {
  json config = test_config(prefix, sim_url);
  config["channels"].erase("webhook");
  config["channels"]["wechat"] = {{"api_base", sim_url},
                                  {"appid", "wx5e1a1d0000000001"},
                                  {"secret", "wechat-sim-secret"},
                                  {"concurrency", 4},
                                  {"publish", {{"poll_ms", {50}}}}};
  return config;
}

}  // namespace

TEST_CASE("two heraldd on one Redis share one WeChat access token", "[heraldd][wechat][slow]") {
  const std::string prefix = unique_key_prefix("wechat-token");
  const std::string dir = make_temp_dir("wechat-token");
  // Latency keeps both instances busy at once, so both need the token while the other has it.
  SimHandle sim = start_sim({"--faults", "wechat:latency_ms=20"});

  const RedisOptions redis_options = test_redis_options();
  RedisConnection conn(redis_options);
  SystemClock clock;
  QueueOptions queue_options;
  queue_options.prefix = prefix;
  DeliveryQueue queue(queue_options, clock);
  // Queued before either starts, so both find work at once.
  REQUIRE(queue.enqueue(conn, wechat_deliveries("wxa")).ok());

  HeralddHandle first = start_heraldd(wechat_config(prefix, sim.url), dir, "first");
  HeralddHandle second = start_heraldd(wechat_config(prefix, sim.url), dir, "second");
  auto published_count = [&] { return sim_published(sim.url, "wechat").at("count").get<int>(); };
  auto logs = [&] {
    return "first: " + read_file(first.log_path) + "\nsecond: " + read_file(second.log_path);
  };
  bool done = wait_until([&] { return published_count() == kDeliveries; }, 60s, 50ms);
  INFO(logs());
  REQUIRE(done);

  // Then each instance alone, so each surely publishes with the token the other fetched (or it
  // fetched and the other reused): still one fetch in all.
  second.process.signal(SIGTERM);
  REQUIRE(second.process.wait(20s).has_value());
  REQUIRE(queue.enqueue(conn, wechat_deliveries("wxb")).ok());
  done = wait_until([&] { return published_count() == 2 * kDeliveries; }, 60s, 50ms);
  REQUIRE(done);
  HeralddHandle third = start_heraldd(wechat_config(prefix, sim.url), dir, "third");
  first.process.signal(SIGTERM);
  REQUIRE(first.process.wait(20s).has_value());
  REQUIRE(queue.enqueue(conn, wechat_deliveries("wxc")).ok());
  done = wait_until([&] { return published_count() == 3 * kDeliveries; }, 60s, 50ms);
  REQUIRE(done);

  const json published = sim_published(sim.url, "wechat");
  CHECK(published.at("token_fetches") == 1);
  CHECK(published.at("forced_refreshes") == 0);
  // Nothing twice: each item once, as a mass send or an article.
  std::set<std::string> titles;
  for (const json& entry : published.at("items")) {
    titles.insert(entry.at("kind") == "mass"
                      ? entry.at("content").get<std::string>()
                      : entry.at("title").get<std::string>() + "|" +
                            entry.at("content_source_url").get<std::string>());
  }
  CHECK(titles.size() == static_cast<std::size_t>(3 * kDeliveries));
  // One cover upload between them too.
  CHECK(published.at("calls").value("material/add_material", 0) == 1);

  // The refresh is counted in Redis, for /metrics.
  RedisPool pool(redis_options, 1);
  RedisTokenCacheOptions cache_options;
  cache_options.prefix = prefix;
  RedisTokenCache cache(cache_options, pool, clock);
  auto counts = cache.refresh_counts();
  REQUIRE(counts.ok());
  CHECK(counts->at("wechat:wx5e1a1d0000000001") == 1);
}
