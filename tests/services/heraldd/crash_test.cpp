// The crash test: several heraldd workers drain 5,000 deliveries into herald-sim while the test
// SIGKILLs and restarts them at random. Nothing may be lost, nothing counted twice, nothing left
// in flight; herald-sim must have received every delivery's Idempotency-Key.
#include <signal.h>

#include <catch2/catch.hpp>
#include <iostream>
#include <random>
#include <set>
#include <thread>

#include "core/item.h"
#include "queue/delivery_queue.h"
#include "queue/redis.h"
#include "tests/support/enum_printers.h"
#include "tests/support/herald_processes.h"
#include "tests/support/redis_server.h"

using namespace herald;
using namespace herald::test;
using nlohmann::json;

namespace {

constexpr int kDeliveries = 5000;
constexpr int kWorkers = 3;

std::vector<NewDelivery> make_deliveries(int count) {
  Item item;
  item.kind = ItemKind::publication;
  item.category = Category::work_news;
  item.title = "工作动态";
  item.body = "正文";
  item.channels = {"webhook"};
  std::vector<NewDelivery> out;
  out.reserve(count);
  for (int i = 0; i < count; ++i) {
    item.id = "crash" + std::to_string(i);
    NewDelivery nd;
    nd.delivery.id = delivery_id_for(item.id, "webhook");
    nd.delivery.item_id = item.id;
    nd.delivery.channel = "webhook";
    // Every 50th is an alert, so both lanes are exercised under the kills.
    const bool alert = i % 50 == 0;
    nd.delivery.lane = alert ? Lane::alert : Lane::routine;
    nd.delivery.kind = alert ? herald::DeliveryKind::alert : herald::DeliveryKind::publication;
    nd.delivery.category = alert ? "overseas_safety" : "work_news";
    nd.delivery.payload = item_to_json(item).dump();
    out.push_back(std::move(nd));
  }
  return out;
}

}  // namespace

TEST_CASE("workers killed at random lose nothing and publish nothing twice", "[crash][slow]") {
  const std::string prefix = unique_key_prefix("crash");
  const std::string dir = make_temp_dir("crash");
  // Latency keeps deliveries in flight when the kills land; the faults make retries happen, and
  // accept_then_5xx models a platform that published but whose answer we never got.
  SimHandle sim =
      start_sim({"--faults", "webhook:latency_ms=15,5xx=0.03,accept_then_5xx=0.01", "--seed", "7"});

  RedisConnection conn(test_redis_options());
  SystemClock clock;
  QueueOptions queue_options;
  queue_options.prefix = prefix;
  DeliveryQueue queue(queue_options, clock);

  std::vector<HeralddHandle> workers;
  int started = 0;
  auto start_worker = [&] {
    json config = test_config(prefix, sim.url);  // a fresh free port each time
    return start_heraldd(config, dir, "worker" + std::to_string(started++));
  };
  for (int i = 0; i < kWorkers; ++i) workers.push_back(start_worker());

  REQUIRE(queue.enqueue(conn, make_deliveries(kDeliveries)).ok());

  // read_tally takes a year: count across this year (and next, should the test span New Year).
  auto published_now = [&] {
    long long sum = 0;
    const auto now = std::chrono::system_clock::now() + std::chrono::hours(8);
    const int year = static_cast<int>(
        std::chrono::year_month_day(std::chrono::floor<std::chrono::days>(now)).year());
    for (int y : {year, year + 1}) {
      auto tally = queue.read_tally(conn, "webhook", y);
      REQUIRE(tally);
      for (const auto& [field, count] : *tally) sum += count;
    }
    return sum;
  };

  // Chaos: kill a random worker every 100-300 ms and start a replacement, while work remains.
  std::mt19937 rng(2026);
  int kills = 0;
  const auto chaos_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (published_now() < kDeliveries && kills < 25 &&
         std::chrono::steady_clock::now() < chaos_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 200));  // chaos pacing
    auto& victim = workers[rng() % workers.size()];
    victim.process.kill_now();
    ++kills;
    victim = start_worker();
  }
  INFO("kills: " << kills);
  CHECK(kills >= 5);  // the kills must have landed while work was in progress

  REQUIRE(wait_until([&] { return published_now() == kDeliveries; }, std::chrono::seconds(120),
                     std::chrono::milliseconds(100)));
  auto depths = queue.depths(conn, "webhook");
  REQUIRE(depths);
  CHECK(depths->alert == 0);
  CHECK(depths->routine == 0);
  CHECK(depths->timed == 0);
  CHECK(depths->inflight == 0);
  CHECK(depths->dead == 0);

  // Every delivery's ledger says published, once.
  std::vector<std::string> ids;
  for (int i = 0; i < kDeliveries; ++i) ids.push_back("crash" + std::to_string(i) + ".webhook");
  auto records = queue.get_many(conn, ids);
  REQUIRE(records);
  REQUIRE(records->size() == static_cast<std::size_t>(kDeliveries));
  int published = 0;
  for (const auto& r : *records) published += r.state == DeliveryState::published ? 1 : 0;
  CHECK(published == kDeliveries);

  // herald-sim got each Idempotency-Key; repeats (the crash window, and accept_then_5xx) were
  // caught by the key and are reported, not counted.
  const json received = sim_published(sim.url, "webhook");
  std::set<std::string> keys;
  for (const auto& entry : received.at("items")) keys.insert(entry.at("idempotency_key"));
  CHECK(keys.size() == static_cast<std::size_t>(kDeliveries));
  for (const auto& id : ids) {
    if (keys.count("herald-" + id) == 0) FAIL_CHECK("herald-sim never received " << id);
  }
  CHECK(received.at("unique_keys") == kDeliveries);
  CHECK(published_now() == received.at("unique_keys").get<long long>());
  std::cout << "crash test: " << kills << " kills, " << kDeliveries << " deliveries, "
            << received.at("duplicates") << " repeated requests caught by Idempotency-Key\n";
}
