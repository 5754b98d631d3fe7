// redis.url "embedded": heraldd starts its own redis-server under data_dir, keeps what it was
// given across a restart (AOF), and shuts the server down cleanly with itself.
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/herald_processes.h"

using namespace herald::test;
using nlohmann::json;


TEST_CASE("an embedded redis keeps accepted items across a heraldd restart and stops cleanly",
          "[heraldd][embedded]") {
  const std::string dir = make_temp_dir("embedded");
  SimHandle sim = start_sim();
  json config = test_config("herald:", sim.url);
  config["redis"] = {{"url", "embedded"}};
  config["data_dir"] = dir + "/data";

  std::string id;
  {
    HeralddHandle daemon = start_heraldd(config, dir, "first");
    auto created = http("POST", daemon.url + "/v1/items", kDutyToken, sample_alert().dump(),
                        {{"Content-Type", "application/json"}});
    REQUIRE(created.status == 201);
    id = json_of(created).at("id");
    approve_twice(daemon.url, id);
    REQUIRE(wait_until([&] { return sim_published(sim.url, "webhook").at("count") == 1; },
                       std::chrono::seconds(10)));
    daemon.process.signal(SIGTERM);
    auto code = daemon.process.wait(std::chrono::seconds(30));
    REQUIRE(code.has_value());
    CHECK(*code == 0);
  }
  const std::string redis_log = read_file(dir + "/data/redis/redis.log");
  INFO(redis_log);
  // Stopped by its SIGTERM (which flushes the AOF), not killed after a timeout.
  CHECK(redis_log.find("Received SIGTERM") != std::string::npos);
  CHECK(redis_log.find("ready to exit") != std::string::npos);
  CHECK(std::filesystem::exists(dir + "/data/redis/appendonlydir"));

  config["http"]["listen"] = "127.0.0.1:" + std::to_string(free_tcp_port());
  HeralddHandle again = start_heraldd(config, dir, "second");
  const json item = json_of(http("GET", again.url + "/v1/items/" + id, kReviewerToken));
  CHECK(item.at("state") == "published");
  CHECK(item.at("deliveries").at(0).at("state") == "published");
  CHECK(sim_published(sim.url, "webhook").at("count") == 1);  // and nothing was sent again
}
