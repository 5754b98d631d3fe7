// redis.url "embedded": heraldd starts its own redis-server under data_dir, keeps what it was
// given across a restart (AOF), and shuts the server down cleanly with itself.
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "queue/redis.h"
#include "services/heraldd/embedded_redis.h"
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

namespace {

unsigned mode_of(const std::string& path) {
  return static_cast<unsigned>(std::filesystem::status(path).permissions()) & 0777u;
}

std::string command_line(pid_t pid) {
  std::string text = read_file("/proc/" + std::to_string(pid) + "/cmdline");
  for (char& c : text) {
    if (c == '\0') c = ' ';
  }
  return text;
}

}  // namespace

TEST_CASE("the embedded redis listens on a unix socket in a 0700 directory, with a password",
          "[heraldd][embedded][secrets]") {
  const std::string dir = make_temp_dir("embedded-lock");
  const std::string redis_dir = dir + "/data/redis";
  // A directory left open by an older heraldd is closed on start.
  std::filesystem::create_directories(redis_dir);
  std::filesystem::permissions(redis_dir, std::filesystem::perms(0755));
  herald::EmbeddedRedisOptions options;
  options.data_dir = dir + "/data";

  std::string password;
  {
    herald::EmbeddedRedis redis(options);
    REQUIRE(redis.start());
    password = redis.password();
    CHECK(password.size() == 64);
    CHECK(redis.url() == "unix://" + redis_dir + "/redis.sock");
    CHECK(mode_of(redis_dir) == 0700u);
    CHECK(mode_of(redis_dir + "/password") == 0600u);
    CHECK(mode_of(redis_dir + "/redis.conf") == 0600u);
    CHECK(read_file(redis_dir + "/password").find(password) == 0);

    // Not on its command line (ps), and no TCP port.
    const std::string cmdline = command_line(redis.pid());
    INFO(cmdline);
    CHECK(cmdline.find(password) == std::string::npos);
    herald::RedisOptions anonymous;
    anonymous.url = redis.url();
    herald::RedisConnection no_password(anonymous);
    auto refused = no_password.command({"PING"});
    REQUIRE(refused);
    CHECK(refused->is_error());
    CHECK(refused->str.rfind("NOAUTH", 0) == 0);

    herald::RedisOptions with_password = anonymous;
    with_password.password = password;
    herald::RedisConnection conn(with_password);
    auto port = conn.command({"CONFIG", "GET", "port"});
    REQUIRE(port);
    REQUIRE(port->elements.size() == 2);
    CHECK(port->elements[1].str == "0");
    auto perm = conn.command({"CONFIG", "GET", "unixsocketperm"});
    REQUIRE(perm);
    REQUIRE(perm->elements.size() == 2);
    CHECK(perm->elements[1].str == "700");
    REQUIRE(conn.command({"SET", "embedded:kept", "yes"}));
    redis.stop();
  }
  CHECK(read_file(redis_dir + "/redis.log").find(password) == std::string::npos);

  // A restart reuses the password (and so reaches what the first run stored).
  herald::EmbeddedRedis again(options);
  REQUIRE(again.start());
  CHECK(again.password() == password);
  herald::RedisOptions with_password;
  with_password.url = again.url();
  with_password.password = password;
  herald::RedisConnection conn(with_password);
  auto kept = conn.command({"GET", "embedded:kept"});
  REQUIRE(kept);
  CHECK(kept->str == "yes");
  again.stop();
}
