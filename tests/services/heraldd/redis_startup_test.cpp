// heraldd starts without its (external) Redis: liveness yes, readiness and the API 503
// "unavailable" naming Redis, and once Redis comes up it finishes starting and serves normally.
#include <catch2/catch.hpp>

#include "queue/redis.h"
#include "tests/support/herald_processes.h"

using namespace herald::test;
using nlohmann::json;

namespace {

const std::vector<std::pair<std::string, std::string>> kJson = {
    {"Content-Type", "application/json"}};

void check_unavailable(const herald::HttpResponse& r) {
  INFO(r.body);
  CHECK(r.status == 503);
  const json error = json_of(r).at("error");
  CHECK(error.at("code") == "unavailable");
  CHECK_THAT(error.at("message").get<std::string>(),
             Catch::Contains("Redis") && Catch::Contains("not reachable"));
}

}  // namespace

TEST_CASE("heraldd comes up without Redis, answers 503, and serves once Redis is there",
          "[heraldd][startup]") {
  const std::string dir = make_temp_dir("no-redis");
  const int port = free_tcp_port();  // nothing listens here yet
  SimHandle sim = start_sim();
  json config = test_config("herald:", sim.url);
  config["redis"] = {{"url", "redis://127.0.0.1:" + std::to_string(port) + "/0"},
                     {"connect_timeout_ms", 300},
                     {"command_timeout_ms", 1000}};
  HeralddHandle daemon = start_heraldd(config, dir);  // waits for /healthz: it did not exit

  CHECK(http("GET", daemon.url + "/healthz").status == 200);
  check_unavailable(http("GET", daemon.url + "/readyz"));
  check_unavailable(
      http("POST", daemon.url + "/v1/items", kDutyToken, sample_alert().dump(), kJson));
  check_unavailable(http("GET", daemon.url + "/v1/items?limit=1", kReviewerToken));
  CHECK(daemon.process.running());

  ChildProcess redis =
      ChildProcess::spawn({"/usr/bin/redis-server", "--port", std::to_string(port), "--bind",
                           "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir},
                          {}, dir + "/redis.log");
  const bool ready = wait_until(
      [&] {
        try {
          return http("GET", daemon.url + "/readyz").status == 200;
        } catch (const std::exception&) {
          return false;
        }
      },
      std::chrono::seconds(30), std::chrono::milliseconds(50));
  INFO(read_file(daemon.log_path));
  REQUIRE(ready);

  // Served normally: accepted, reviewed, and published by a dispatcher started late.
  auto created = http("POST", daemon.url + "/v1/items", kDutyToken, sample_alert().dump(), kJson);
  INFO(created.body);
  REQUIRE(created.status == 201);
  const std::string id = json_of(created).at("id");
  approve_twice(daemon.url, id);
  CHECK(wait_until([&] { return sim_published(sim.url, "webhook").at("count") == 1; },
                   std::chrono::seconds(20)));

  // The wait was logged, but not once per attempt.
  const std::string log = read_file(daemon.log_path);
  std::size_t warnings = 0;
  for (auto at = log.find("not reachable"); at != std::string::npos;
       at = log.find("not reachable", at + 1)) {
    ++warnings;
  }
  CHECK(warnings >= 1);
  CHECK(warnings <= 3);
  CHECK(log.find("start-up finished") != std::string::npos);
}
