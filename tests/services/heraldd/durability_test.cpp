// Durable before answered (DESIGN.md §3): what heraldd answered 201 survives the loss of
// its redis-server; the embedded server and the production config fsync every write
// (appendfsync always); redis.wait_replicas turns a write that no replica confirmed into a 503.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "queue/redis.h"
#include "tests/support/herald_processes.h"

using namespace herald::test;
using nlohmann::json;

namespace {

const std::vector<std::pair<std::string, std::string>> kJson = {
    {"Content-Type", "application/json"}};

// A redis-server of this test's own on a fixed port and directory, so that it can be SIGKILLed and
// started again on the same AOF (tests/support's OwnRedisServer runs without persistence).
class AofRedis {
 public:
  AofRedis(std::string dir, std::vector<std::string> extra = {})
      : port_(free_tcp_port()), dir_(std::move(dir)), extra_(std::move(extra)) {
    start();
  }
  void start() {
    std::vector<std::string> argv = {"/usr/bin/redis-server",
                                     "--port",
                                     std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--dir",
                                     dir_,
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "yes",
                                     "--appendfsync",
                                     "always"};
    argv.insert(argv.end(), extra_.begin(), extra_.end());
    process_ = ChildProcess::spawn(argv, {}, dir_ + "/redis.log");
    // Answers PING only once the AOF is loaded (LOADING before).
    const bool up = wait_until(
        [&] {
          herald::RedisConnection probe(options());
          auto pong = probe.command({"PING"});
          return pong && pong->str == "PONG";
        },
        std::chrono::seconds(30));
    if (!up)
      throw std::runtime_error("redis-server did not start: " + read_file(dir_ + "/redis.log"));
  }
  void kill() { process_.kill_now(); }
  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }
  herald::RedisOptions options() const {
    herald::RedisOptions o;
    o.url = url();
    o.connect_timeout = std::chrono::milliseconds(300);
    o.command_timeout = std::chrono::milliseconds(1000);
    return o;
  }

 private:
  int port_;
  std::string dir_;
  std::vector<std::string> extra_;
  ChildProcess process_;
};

bool ready(const std::string& heraldd_url) {
  try {
    return http("GET", heraldd_url + "/readyz").status == 200;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

// A SIGKILL loses what Redis had not written to its AOF when it answered; the kernel keeps what
// was written, so this proves "answered implies in the AOF" (no answer before the write, nothing
// answered from memory), not the fsync a power cut needs: that is appendfsync always, checked in
// the next test (a power cut cannot be simulated without root and a faulty block device).
TEST_CASE("every item answered 201, and every approval answered, survives a SIGKILL of Redis",
          "[heraldd][durability]") {
  const std::string dir = make_temp_dir("durability");
  AofRedis redis(dir);
  SimHandle sim = start_sim();
  json config = test_config("herald:", sim.url);
  config["redis"] = {
      {"url", redis.url()}, {"connect_timeout_ms", 300}, {"command_timeout_ms", 1000}};
  HeralddHandle daemon = start_heraldd(config, dir);

  // What heraldd confirmed: item ids (201 to the submission) and (item, reviewer) pairs (201 to
  // the approval). Recorded only after the answer arrived, so each is a promise heraldd made.
  std::mutex mutex;
  std::set<std::string> items;
  std::set<std::pair<std::string, std::string>> approvals;
  std::atomic<int> confirmed{0};
  std::atomic<bool> killed{false};
  std::atomic<int> refused_after_kill{0};
  std::atomic<bool> stop{false};

  auto client = [&](int n) {
    while (!stop) {
      json item = sample_alert();
      item["title"] = "durability " + std::to_string(n);
      std::string id;
      try {
        auto created = http("POST", daemon.url + "/v1/items", kDutyToken, item.dump(), kJson);
        if (created.status != 201) {
          if (killed) ++refused_after_kill;
          continue;
        }
        id = json_of(created).at("id");
        std::lock_guard lock(mutex);
        items.insert(id);
      } catch (const std::exception&) {
        if (killed) ++refused_after_kill;
        continue;
      }
      ++confirmed;
      for (const auto& [token, user] :
           {std::pair{kReviewerToken, "rev"}, std::pair{kReviewer2Token, "rev2"}}) {
        try {
          if (review(daemon.url, id, token, "approve", "ok").status != 201) break;
          std::lock_guard lock(mutex);
          approvals.emplace(id, user);
        } catch (const std::exception&) {
          break;
        }
      }
    }
  };
  std::vector<std::thread> clients;
  for (int i = 0; i < 8; ++i) clients.emplace_back(client, i);

  // Kill Redis in the middle of the traffic: enough accepted to matter, and requests in flight.
  REQUIRE(wait_until([&] { return confirmed >= 40; }, std::chrono::seconds(60)));
  redis.kill();
  killed = true;
  // Refusals, not hangs, once Redis is gone: the clients went on until heraldd noticed.
  const bool refused =
      wait_until([&] { return refused_after_kill >= 8; }, std::chrono::seconds(30));
  stop = true;
  for (auto& t : clients) t.join();
  CHECK(refused);

  redis.start();  // the same port and AOF directory
  REQUIRE(wait_until([&] { return ready(daemon.url); }, std::chrono::seconds(30)));

  INFO(items.size() << " items and " << approvals.size() << " approvals were confirmed");
  REQUIRE(items.size() >= 40);
  for (const auto& id : items) {
    INFO(id);
    const auto got = http("GET", daemon.url + "/v1/items/" + id, kReviewerToken);
    REQUIRE(got.status == 200);
    std::set<std::string> approvers;
    const json item = json_of(got);
    for (const auto& a : item.at("approvals")) approvers.insert(a.at("user").get<std::string>());
    for (const char* user : {"rev", "rev2"}) {
      if (approvals.count({id, user})) CHECK(approvers.count(user) == 1);
    }
  }
}

TEST_CASE("the embedded Redis and the production config fsync every write (appendfsync always)",
          "[heraldd][durability][embedded]") {
  const std::string dir = make_temp_dir("embedded-fsync");
  SimHandle sim = start_sim();
  json config = test_config("herald:", sim.url);
  config["redis"] = {{"url", "embedded"}};
  config["data_dir"] = dir + "/data";
  HeralddHandle daemon = start_heraldd(config, dir);

  // The running server's own view, through the socket heraldd gave it.
  herald::RedisOptions options;
  options.url = "unix://" + dir + "/data/redis/redis.sock";
  // The embedded server requires the password heraldd generated for it.
  options.password = read_file(dir + "/data/redis/password");
  while (!options.password.empty() && options.password.back() == '\n') options.password.pop_back();
  herald::RedisConnection conn(options);
  for (const auto& [key, want] :
       {std::pair{"appendfsync", "always"}, std::pair{"appendonly", "yes"}}) {
    auto reply = conn.command({"CONFIG", "GET", key});
    REQUIRE(reply);
    REQUIRE(reply->elements.size() == 2);
    CHECK(reply->elements[1].str == want);
  }

  // deploy/redis-production.conf: exactly one appendfsync directive, and it is "always".
  std::ifstream in(std::string(HERALD_SOURCE_DIR) + "/deploy/redis-production.conf");
  REQUIRE(in);
  std::vector<std::string> directives;
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string name, value;
    words >> name >> value;
    if (name == "appendfsync") directives.push_back(value);
    if (name == "appendonly") CHECK(value == "yes");
  }
  CHECK(directives == std::vector<std::string>{"always"});
}

TEST_CASE("redis.wait_replicas: 503 while no replica confirms a write, 201 once one does",
          "[heraldd][durability][wait]") {
  const std::string dir = make_temp_dir("wait-replicas");
  AofRedis primary(dir);
  SimHandle sim = start_sim();
  json config = test_config("herald:", sim.url);
  config["redis"] = {{"url", primary.url()}, {"wait_replicas", 1}, {"wait_timeout_ms", 1000}};
  HeralddHandle daemon = start_heraldd(config, dir);

  // No replica: the item is stored, and the answer says so rather than claiming success.
  auto created = http("POST", daemon.url + "/v1/items", kDutyToken, sample_alert().dump(),
                      {{"Content-Type", "application/json"}, {"Idempotency-Key", "wait-1"}});
  INFO(created.body);
  REQUIRE(created.status == 503);
  const json error = json_of(created).at("error");
  CHECK(error.at("code") == "unavailable");
  CHECK_THAT(error.at("message").get<std::string>(),
             Catch::Contains("stored in Redis") && Catch::Contains("0 of 1 replica"));
  const std::string location = created.header("location");
  REQUIRE_FALSE(location.empty());
  CHECK(http("GET", daemon.url + location, kReviewerToken).status == 200);

  // An approval: recorded, answered 503 for the same reason.
  const std::string id = location.substr(location.rfind('/') + 1);
  auto approved = review(daemon.url, id, kReviewerToken, "approve", "ok");
  CHECK(approved.status == 503);
  CHECK_THAT(approved.body, Catch::Contains("stored in Redis"));

  // A replica joins: the retried submission (same key) is confirmed, not stored twice.
  const std::string replica_dir = make_temp_dir("wait-replica");
  AofRedis replica(replica_dir, {"--replicaof", "127.0.0.1", std::to_string(primary.port())});
  herald::RedisConnection conn(primary.options());
  REQUIRE(wait_until(
      [&] {
        auto info = conn.command({"INFO", "replication"});
        return info && info->str.find("connected_slaves:1") != std::string::npos &&
               info->str.find("state=online") != std::string::npos;
      },
      std::chrono::seconds(30)));
  auto again = http("POST", daemon.url + "/v1/items", kDutyToken, sample_alert().dump(),
                    {{"Content-Type", "application/json"}, {"Idempotency-Key", "wait-1"}});
  INFO(again.body);
  CHECK(again.status == 201);
  CHECK(json_of(again).at("id") == id);

  // The second approval queues it; its ack waits for the replica too, and it is published once.
  auto second = review(daemon.url, id, kReviewer2Token, "approve", "ok");
  INFO(second.body);
  CHECK(second.status == 201);
  CHECK(json_of(second).at("state") == "queued");
  CHECK(wait_until([&] { return sim_published(sim.url, "webhook").at("count") == 1; },
                   std::chrono::seconds(20)));
  CHECK(wait_until(
      [&] {
        const json item = json_of(http("GET", daemon.url + "/v1/items/" + id, kReviewerToken));
        return item.at("state") == "published";
      },
      std::chrono::seconds(20)));
}
