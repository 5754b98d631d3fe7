// queue_bench: Herald's delivery queue against a real redis-server, measured the way the BullMQ
// comparison (bench/peers/bullmq/bench.mjs) measures BullMQ, so the two figures can be set side by
// side:
//   throughput: N routine deliveries enqueued, then W workers claim and ack them in batches of B
//               (claim + publish-ack through the real Lua scripts, tally included) → deliveries/s;
//   alert pickup: with a backlog of routine deliveries waiting, one alert is enqueued and a
//               worker's next claim takes it → time from enqueue to claimed (median of R runs).
// The channel does nothing: this is the queue's cost, not a platform's.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "queue/delivery_queue.h"
#include "queue/redis.h"

namespace {

using namespace herald;
using Steady = std::chrono::steady_clock;

constexpr const char* kChannel = "bench";

std::vector<NewDelivery> make_deliveries(const std::string& tag, int first, int count, Lane lane) {
  std::vector<NewDelivery> out;
  out.reserve(count);
  for (int i = first; i < first + count; ++i) {
    NewDelivery n;
    n.delivery.item_id = tag + std::to_string(i);
    n.delivery.channel = kChannel;
    n.delivery.id = delivery_id_for(n.delivery.item_id, kChannel);
    n.delivery.lane = lane;
    n.delivery.category = "work_news";
    n.delivery.kind = lane == Lane::alert ? DeliveryKind::alert : DeliveryKind::publication;
    n.delivery.payload = R"({"title":"bench"})";
    out.push_back(std::move(n));
  }
  return out;
}

template <typename T>
T must(Result<T> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "%s: %s\n", what, r.error().message.c_str());
    std::exit(1);
  }
  return std::move(*r);
}

void enqueue_all(DeliveryQueue& queue, RedisConnection& conn, const std::string& tag, int count,
                 Lane lane) {
  constexpr int kChunk = 5000;
  for (int first = 0; first < count; first += kChunk) {
    must(queue.enqueue(conn, make_deliveries(tag, first, std::min(kChunk, count - first), lane)),
         "enqueue");
  }
}

double throughput(DeliveryQueue& queue, const RedisOptions& ro, int deliveries, int workers,
                  int batch) {
  RedisConnection setup(ro);
  enqueue_all(queue, setup, "t", deliveries, Lane::routine);
  std::atomic<long long> done{0};
  const auto start = Steady::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      RedisConnection conn(ro);
      ClaimRequest request{"bench-" + std::to_string(w), 0, batch};
      std::vector<Completion> completions;
      while (done.load() < deliveries) {
        Claimed claimed = must(queue.claim(conn, kChannel, request), "claim");
        if (claimed.deliveries.empty()) break;
        completions.clear();
        for (const Delivery& d : claimed.deliveries) {
          Completion c;
          c.delivery_id = d.id;
          c.lease_token = d.lease_token;
          c.remote_id = "r";
          completions.push_back(std::move(c));
        }
        must(queue.complete(conn, kChannel, completions), "complete");
        done += static_cast<long long>(completions.size());
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Steady::now() - start).count();
  if (done.load() != deliveries) {
    std::fprintf(stderr, "only %lld of %d deliveries were completed\n", done.load(), deliveries);
    std::exit(1);
  }
  return deliveries / seconds;
}

// A worker blocks in Redis as a dispatcher does (wait_for_work with only alert capacity, so the
// routine backlog does not wake it), then claims; the time runs from just before the enqueue to
// the claim's return in the worker, wake-up included.
double alert_pickup_ms(DeliveryQueue& queue, const RedisOptions& ro, int backlog, int runs) {
  RedisConnection conn(ro);
  enqueue_all(queue, conn, "b", backlog, Lane::routine);
  std::mutex mutex;
  std::condition_variable cv;
  std::optional<Steady::time_point> claimed_at;
  std::atomic<bool> stop{false};
  std::thread worker([&] {
    RedisConnection blocking(ro), work(ro);
    ClaimRequest request{"bench-alert", 1, 0};
    while (!stop) {
      must(queue.wait_for_work(blocking, kChannel, std::chrono::milliseconds(200), false),
           "wait for work");
      Claimed claimed = must(queue.claim(work, kChannel, request), "claim alert");
      if (claimed.deliveries.empty()) continue;
      const auto at = Steady::now();
      const Delivery& d = claimed.deliveries[0];
      if (d.lane != Lane::alert) {
        std::fprintf(stderr, "a routine delivery was claimed with alert capacity only\n");
        std::exit(1);
      }
      Completion done;
      done.delivery_id = d.id;
      done.lease_token = d.lease_token;
      must(queue.complete(work, kChannel, {done}), "complete alert");
      std::lock_guard lock(mutex);
      claimed_at = at;
      cv.notify_one();
    }
  });
  std::vector<double> samples;
  for (int r = 0; r < runs; ++r) {
    // Let the worker go back to blocking, so each run measures a wake-up.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto alert = make_deliveries("a" + std::to_string(r) + "-", 0, 1, Lane::alert);
    const auto start = Steady::now();
    must(queue.enqueue(conn, alert), "enqueue alert");
    std::unique_lock lock(mutex);
    if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return claimed_at.has_value(); })) {
      std::fprintf(stderr, "the alert was not claimed within 10 s\n");
      std::exit(1);
    }
    samples.push_back(std::chrono::duration<double, std::milli>(*claimed_at - start).count());
    claimed_at.reset();
  }
  stop = true;
  worker.join();
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Herald queue benchmark (see bench/README.md)"};
  std::string url = "redis://127.0.0.1:6379/0";
  int deliveries = 100000, workers = 4, batch = 64, backlog = 100000, runs = 50;
  app.add_option("--redis-url", url, "a redis-server used for nothing else");
  app.add_option("--deliveries", deliveries, "deliveries for the throughput run");
  app.add_option("--workers", workers, "claiming threads, one connection each");
  app.add_option("--batch", batch, "most deliveries claimed (and acked) per round trip");
  app.add_option("--backlog", backlog, "routine deliveries waiting during the alert runs");
  app.add_option("--runs", runs, "alert pickups measured (the median is printed; 0: none)");
  CLI11_PARSE(app, argc, argv);

  RedisOptions ro;
  ro.url = url;
  ro.command_timeout = std::chrono::milliseconds(30000);
  SystemClock clock;
  QueueOptions qo;
  qo.prefix = "herald-bench:" + std::to_string(clock.now_ms()) + ":";
  qo.lease = std::chrono::minutes(5);
  DeliveryQueue queue(qo, clock);

  const double rate = throughput(queue, ro, deliveries, workers, batch);
  std::printf("herald throughput: %d deliveries, %d workers, batch %d: %.0f deliveries/s\n",
              deliveries, workers, batch, rate);
  if (runs == 0) return 0;  // bench/run measures alerts end to end, through heraldd
  const double pickup = alert_pickup_ms(queue, ro, backlog, runs);
  std::printf("herald alert pickup behind %d waiting: median %.3f ms over %d runs\n", backlog,
              pickup, runs);
  return 0;
}
