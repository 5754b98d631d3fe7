// report_bench: shows that the annual report costs the same over 1,000 and over 1,000,000
// deliveries. It fills the counters through the real counting path (enqueue, claim, and the
// complete script that acks and tallies in one step; then the item counts are settled as heraldd
// does), with the clock moved through the year so the deliveries are spread over its days, and
// then times the report query (both years' figures from the counters, plus rendering) several
// times for each, against a real redis-server. Not a test: it asserts nothing. See bench/README.md.
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/report/annual_report.h"
#include "core/report/report_render.h"
#include "queue/delivery_queue.h"
#include "queue/redis.h"
#include "queue/stats_store.h"
#include "services/heraldd/report_routes.h"

namespace {

using namespace herald;
using Seconds = std::chrono::duration<double>;

constexpr int kYear = 2025;
constexpr int kBatch = 1000;  // the most one claim call takes
const std::vector<std::string> kChannels = {"portal", "weibo", "website"};
const std::vector<std::string> kCategories = {"regulation", "work_news", "personnel", "finance",
                                              "overseas_safety"};

[[noreturn]] void die(const std::string& what, const Error& e) {
  std::cerr << "report_bench: " << what << ": " << e.message << "\n";
  std::exit(1);
}

template <class T>
T must(Result<T> r, const std::string& what) {
  if (!r) die(what, r.error());
  return std::move(*r);
}

// A private redis-server on a free port (no persistence), stopped at the end.
struct RedisChild {
  pid_t pid = -1;
  int port = 0;
  ~RedisChild() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
  }
};

void start_redis(RedisChild& child, const std::string& binary) {
  child.port = 20000 + static_cast<int>(getpid() % 20000);
  child.pid = fork();
  if (child.pid == 0) {
    const std::string port = std::to_string(child.port);
    execl(binary.c_str(), binary.c_str(), "--port", port.c_str(), "--bind", "127.0.0.1", "--save",
          "", "--appendonly", "no", "--loglevel", "warning", static_cast<char*>(nullptr));
    _exit(127);
  }
  RedisOptions o;
  o.url = "redis://127.0.0.1:" + std::to_string(child.port) + "/0";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    RedisConnection c(o);
    auto pong = c.command({"PING"});
    if (pong && !pong->is_error()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::cerr << "report_bench: redis-server did not start on port " << child.port << "\n";
  std::exit(1);
}

// Fills `deliveries` deliveries (two channels per item, so deliveries/2 items) spread evenly over
// the days of kYear, through enqueue → claim → complete → settle. Returns the seconds it took.
double fill(RedisConnection& conn, const std::string& prefix, long long deliveries, int offset) {
  const TimePoint year_start = from_unix_ms(1735660800000LL);  // 2025-01-01T00:00:00+08:00
  ManualClock clock(year_start);
  QueueOptions qo;
  qo.prefix = prefix;
  qo.utc_offset_minutes = offset;
  DeliveryQueue queue(qo, clock);
  StatsStore stats(prefix, offset);
  if (auto registered = stats.register_channels(conn, kChannels); !registered) {
    die("registering channels", registered.error());
  }

  const auto started = std::chrono::steady_clock::now();
  const long long items = deliveries / 2;
  // Small fills get small batches, so they too land on every day of the year.
  const long long per_batch_items = std::clamp<long long>(items / 365, 1, kBatch / 2);
  const long long batches = (items + per_batch_items - 1) / per_batch_items;
  long long item = 0;
  for (long long b = 0; b < batches; ++b) {
    // The clock walks through the year: batch b of `batches` lands on day 365·b/batches.
    clock.set(year_start + std::chrono::seconds(365LL * 86400 * b / batches + 3600));
    std::vector<NewDelivery> batch;
    std::map<std::string, int> per_channel;
    for (long long k = 0; k < per_batch_items && item < items; ++k, ++item) {
      const std::string item_id = "bench-" + std::to_string(item);
      const bool alert = item % 25 == 0;
      for (int c = 0; c < 2; ++c) {
        // Channels rotate so each has its share: (0,1), (1,2), (2,0), ...
        const std::string& channel = kChannels[(item + c) % kChannels.size()];
        Delivery d;
        d.id = delivery_id_for(item_id, channel);
        d.item_id = item_id;
        d.channel = channel;
        d.lane = alert ? Lane::alert : Lane::routine;
        d.category = alert ? "overseas_safety" : kCategories[item % 4];
        d.kind = alert ? DeliveryKind::alert : DeliveryKind::publication;
        d.level = alert ? "caution" : "";
        d.payload = "{}";
        batch.push_back({d, std::nullopt});
        ++per_channel[channel];
      }
    }
    must(queue.enqueue(conn, batch), "enqueue");
    for (const auto& [channel, n] : per_channel) {
      int left = n;
      while (left > 0) {
        auto claimed = must(queue.claim(conn, channel, {"bench", kBatch, kBatch}), "claim");
        if (claimed.deliveries.empty()) die("claim", Error::permanent("nothing claimed"));
        std::vector<Completion> done;
        for (const auto& d : claimed.deliveries) {
          Completion c;
          c.delivery_id = d.id;
          c.lease_token = d.lease_token;
          c.outcome = OutcomeKind::published;
          c.remote_id = "r-" + d.id;
          done.push_back(c);
        }
        must(queue.complete(conn, channel, done), "complete");
        left -= static_cast<int>(claimed.deliveries.size());
      }
    }
    for (const auto& channel : kChannels) {
      while (
          must(stats.settle_first_publications(conn, channel, std::chrono::milliseconds(0), 5000),
               "settle") > 0) {
      }
    }
  }
  return Seconds(std::chrono::steady_clock::now() - started).count();
}

struct Timing {
  double median_ms = 0, min_ms = 0, max_ms = 0;
  long long items = 0, deliveries = 0;
  std::size_t html_bytes = 0;
};

Timing time_report(RedisConnection& conn, const std::string& prefix, int offset, int reps) {
  StatsStore stats(prefix, offset);
  std::vector<double> ms;
  Timing t;
  for (int i = 0; i < reps; ++i) {
    const auto started = std::chrono::steady_clock::now();
    auto current = must(read_year_figures(conn, stats, kYear), "report query");
    auto previous = must(read_year_figures(conn, stats, kYear - 1), "report query");
    t.items = current.items();
    t.deliveries = current.deliveries();
    const auto report = report::build_annual_report(kYear, std::move(current), std::move(previous),
                                                    std::nullopt, "bench", offset, "bench");
    const std::string html = report::render_html(report);
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count());
    t.html_bytes = html.size();
  }
  std::sort(ms.begin(), ms.end());
  t.median_ms = ms[ms.size() / 2];
  t.min_ms = ms.front();
  t.max_ms = ms.back();
  return t;
}

// Fields of the year's counter hashes: the day hashes, or (months) their month rollups, which
// are what the report reads.
long long counter_fields(RedisConnection& conn, const std::string& prefix, bool months) {
  const std::string suffix = std::to_string(kYear) + (months ? ":months" : "");
  std::vector<std::string> keys = {prefix + "{items}:stats:" + suffix};
  for (const auto& ch : kChannels) keys.push_back(prefix + "{" + ch + "}:tally:" + suffix);
  long long n = 0;
  for (const auto& key : keys) n += must(conn.command({"HLEN", key}), "HLEN").integer;
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"report_bench: the annual report over 1,000 and over 1,000,000 deliveries"};
  std::string redis_url;
  std::string redis_binary = "/usr/bin/redis-server";
  std::vector<long long> sizes = {1000, 1000000};
  int reps = 21;
  app.add_option("--redis", redis_url, "use this Redis (else a private redis-server is started)");
  app.add_option("--redis-server", redis_binary, "redis-server binary to start");
  app.add_option("--sizes", sizes, "deliveries to fill, one run each")->expected(1, 8);
  app.add_option("--reps", reps, "timed report queries per size (the median is printed)")
      ->check(CLI::Range(1, 1001));
  CLI11_PARSE(app, argc, argv);

  RedisChild child;
  if (redis_url.empty()) {
    start_redis(child, redis_binary);
    redis_url = "redis://127.0.0.1:" + std::to_string(child.port) + "/0";
  }
  RedisOptions ro;
  ro.url = redis_url;
  ro.command_timeout = std::chrono::milliseconds(60000);
  RedisConnection conn(ro);
  constexpr int kOffset = 480;

  std::vector<Timing> timings;
  for (long long size : sizes) {
    const std::string prefix =
        "bench:" + std::to_string(getpid()) + ":" + std::to_string(size) + ":";
    std::printf("filling %lld deliveries over %d through enqueue/claim/complete ...\n", size,
                kYear);
    std::fflush(stdout);
    const double fill_s = fill(conn, prefix, size, kOffset);
    const Timing t = time_report(conn, prefix, kOffset, reps);
    std::printf(
        "%9lld deliveries (%lld items): filled in %.1f s; %lld day fields, %lld month fields; "
        "report query median %.2f ms (min %.2f, max %.2f, %d runs, html %zu bytes)\n",
        t.deliveries, t.items, fill_s, counter_fields(conn, prefix, false),
        counter_fields(conn, prefix, true), t.median_ms, t.min_ms, t.max_ms, reps, t.html_bytes);
    std::fflush(stdout);
    timings.push_back(t);
  }
  if (timings.size() >= 2) {
    std::printf("ratio of medians (largest / smallest): %.2f\n",
                timings.back().median_ms / timings.front().median_ms);
  }
  return 0;
}
