// herald_load: the Herald-side load generator of bench/run, talking to a real heraldd over its
// API the way a duty officer's tools do (Bearer tokens, JSON items). One subcommand per use:
//   submit  N items, one per POST /v1/items, with --inflight requests in flight → items/s
//   batch   N items through POST /v1/items:batch, --batch per request → items/s (or "no route")
//   fill    N items submitted and approved (review.approvals_required = 1), --inflight at a time,
//           so they wait in the queue (or, with --publish-at, stay scheduled)
//   alerts  K alerts one at a time, each tagged "bench-mark-<tag>"; the time from just before the
//           approval (which queues it) to its arrival at the sink (GET /arrivals) → p50, p99
// Each prints one JSON object on stdout. Not a test: it asserts only that heraldd said yes.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "adapters/http_client.h"

namespace {

using herald::HttpClient;
using herald::HttpRequest;
using herald::HttpResponse;
using nlohmann::json;
using Steady = std::chrono::steady_clock;

struct Options {
  std::string url;  // heraldd's API, http://127.0.0.1:PORT
  std::string author_token, reviewer_token;
  std::string item_file;
  std::string channel = "webhook";
  std::string publish_at;  // fill: keep the items scheduled until then
  std::string sink;        // alerts: the sink whose /arrivals are read
  int count = 1000, inflight = 32, batch = 1000;
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "herald_load: %s\n", what.c_str());
  std::exit(1);
}

json read_item(const Options& o) {
  std::ifstream in(o.item_file);
  if (!in) die("cannot read " + o.item_file);
  json item = json::parse(in);
  item["channels"] = {o.channel};
  if (!o.publish_at.empty()) item["publish_at"] = o.publish_at;
  return item;
}

HttpResponse send(HttpClient& client, const std::string& method, const std::string& url,
                  const std::string& token, const std::string& body = "") {
  HttpRequest request;
  request.method = method;
  request.url = url;
  request.body = body;
  request.total_timeout = std::chrono::seconds(120);
  request.headers = {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}};
  auto response = client.send(request);
  if (!response) die(method + " " + url + ": " + response.error().message);
  return *response;
}

// POST /v1/items; returns the new item's id.
std::string submit(HttpClient& client, const Options& o, const std::string& body) {
  const HttpResponse r = send(client, "POST", o.url + "/v1/items", o.author_token, body);
  if (r.status != 201) die("submit answered " + std::to_string(r.status) + ": " + r.body);
  return json::parse(r.body).at("id").get<std::string>();
}

void approve(HttpClient& client, const Options& o, const std::string& id) {
  const HttpResponse r = send(client, "POST", o.url + "/v1/items/" + id + "/approvals",
                              o.reviewer_token, R"({"decision":"approve","comment":"bench"})");
  if (r.status != 201) die("approval answered " + std::to_string(r.status) + ": " + r.body);
}

// Runs work(i) for i in [0, count) on `threads` threads (each with its own HttpClient, so its
// connection stays open); returns the seconds it took.
template <typename Work>
double parallel(int count, int threads, Work work) {
  std::atomic<int> next{0};
  const auto start = Steady::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < std::min(threads, count); ++t) {
    pool.emplace_back([&] {
      HttpClient client;
      for (int i = next++; i < count; i = next++) work(client, i);
    });
  }
  for (auto& t : pool) t.join();
  return std::chrono::duration<double>(Steady::now() - start).count();
}

void run_submit(const Options& o) {
  const std::string body = read_item(o).dump();
  const double s = parallel(o.count, o.inflight, [&](HttpClient& c, int) { submit(c, o, body); });
  std::printf("%s\n",
              json{{"items", o.count}, {"seconds", s}, {"per_s", o.count / s}}.dump().c_str());
}

void run_batch(const Options& o) {
  const json item = read_item(o);
  HttpClient client;
  int done = 0;
  const auto start = Steady::now();
  while (done < o.count) {
    const int n = std::min(o.batch, o.count - done);
    const std::string body = json(std::vector<json>(n, item)).dump();
    const HttpResponse r = send(client, "POST", o.url + "/v1/items:batch", o.author_token, body);
    if (r.status == 404 || r.status == 405) {
      std::printf("%s\n", json{{"no_route", true}, {"status", r.status}}.dump().c_str());
      return;
    }
    if (r.status < 200 || r.status > 299) {
      die("batch answered " + std::to_string(r.status) + ": " + r.body.substr(0, 300));
    }
    // Answered per item: every one must have been created.
    const json results = json::parse(r.body).at("results");
    for (const json& one : results) {
      if (one.at("status") != 201) die("a batch item was refused: " + one.dump());
    }
    if (static_cast<int>(results.size()) != n) die("a batch was not answered item by item");
    done += n;
  }
  const double s = std::chrono::duration<double>(Steady::now() - start).count();
  std::printf("%s\n",
              json{{"items", o.count}, {"seconds", s}, {"per_s", o.count / s}}.dump().c_str());
}

void run_fill(const Options& o) {
  const std::string body = read_item(o).dump();
  const double s =
      parallel(o.count, o.inflight, [&](HttpClient& c, int) { approve(c, o, submit(c, o, body)); });
  std::printf("%s\n", json{{"items", o.count}, {"seconds", s}}.dump().c_str());
}

long long realtime_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The sink's arrival time (realtime µs) of the request tagged `tag`, polled every 2 ms.
long long wait_arrival(HttpClient& client, const std::string& sink, const std::string& tag) {
  const auto deadline = Steady::now() + std::chrono::seconds(60);
  while (Steady::now() < deadline) {
    HttpRequest request;
    request.url = sink + "/arrivals";
    auto r = client.send(request);
    if (!r) die("sink: " + r.error().message);
    std::istringstream lines(r->body);
    std::string t;
    long long at = 0;
    while (lines >> t >> at) {
      if (t == tag) return at;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  die("alert " + tag + " did not reach the sink within 60 s");
}

void run_alerts(const Options& o) {
  json item = read_item(o);
  const std::string title = item.at("title");
  HttpClient client, sink;
  std::vector<double> from_approval, from_submit;
  for (int k = 0; k < o.count; ++k) {
    // A short pause between alerts, as an office sends them: each is a fresh pickup.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const std::string tag = "a" + std::to_string(k) + "-" + std::to_string(realtime_us() % 100000);
    item["title"] = title + " bench-mark-" + tag;
    const long long submitted = realtime_us();
    const std::string id = submit(client, o, item.dump());
    const long long approving = realtime_us();
    approve(client, o, id);
    const long long arrived = wait_arrival(sink, o.sink, tag);
    from_approval.push_back((arrived - approving) / 1000.0);
    from_submit.push_back((arrived - submitted) / 1000.0);
  }
  auto pct = [](std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))];
  };
  std::printf("%s\n", json{{"alerts", o.count},
                           {"p50_ms", pct(from_approval, 0.5)},
                           {"p99_ms", pct(from_approval, 0.99)},
                           {"from_submit_p50_ms", pct(from_submit, 0.5)},
                           {"from_submit_p99_ms", pct(from_submit, 0.99)}}
                          .dump()
                          .c_str());
}

}  // namespace

int main(int argc, char** argv) {
  herald::init_http_client_library();
  CLI::App app{"herald_load: bench/run's load generator for heraldd (see bench/README.md)"};
  app.require_subcommand(1);
  Options o;
  for (const char* name : {"submit", "batch", "fill", "alerts"}) {
    CLI::App* sub = app.add_subcommand(name);
    sub->add_option("--url", o.url, "heraldd's API base URL")->required();
    sub->add_option("--author-token", o.author_token, "token of the submitting user")->required();
    sub->add_option("--reviewer-token", o.reviewer_token, "token of the approving user");
    sub->add_option("--item", o.item_file, "the item JSON (its channels are replaced)")->required();
    sub->add_option("--channel", o.channel, "the one channel the items go to");
    sub->add_option("--count", o.count, "items (or alerts) to send");
    sub->add_option("--inflight", o.inflight, "requests in flight (threads)");
    sub->add_option("--batch", o.batch, "items per batch request");
    sub->add_option("--publish-at", o.publish_at, "fill: RFC 3339 time the items wait for");
    sub->add_option("--sink", o.sink, "alerts: the sink's base URL");
  }
  CLI11_PARSE(app, argc, argv);
  const std::string cmd = app.get_subcommands().front()->get_name();
  if (cmd == "submit") run_submit(o);
  if (cmd == "batch") run_batch(o);
  if (cmd == "fill") run_fill(o);
  if (cmd == "alerts") run_alerts(o);
  return 0;
}
