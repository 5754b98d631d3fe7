// The embedded redis-server's log stays bounded: an oversized redis.log is rotated to redis.log.1
// when the server starts, and a small one is left to grow.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "services/heraldd/embedded_redis.h"
#include "tests/support/herald_processes.h"

using namespace herald::test;

TEST_CASE("embedded redis: an oversized redis.log is rotated at start, a small one kept",
          "[heraldd][embedded]") {
  const std::string dir = make_temp_dir("redis-log");
  const std::string redis_dir = dir + "/data/redis";
  std::filesystem::create_directories(redis_dir);
  chmod(redis_dir.c_str(), 0700);
  const std::string log = redis_dir + "/redis.log";
  herald::EmbeddedRedisOptions options;
  options.data_dir = dir + "/data";

  // Small: kept, and the server appends to it.
  std::ofstream(log) << "an earlier run\n";
  {
    herald::EmbeddedRedis redis(options);
    REQUIRE(redis.start());
    redis.stop();
  }
  CHECK_FALSE(std::filesystem::exists(log + ".1"));
  CHECK(read_file(log).rfind("an earlier run\n", 0) == 0);

  // Oversized (sparse, 17 MiB): moved aside, and the server starts a new file.
  std::filesystem::resize_file(log, 17u * 1024 * 1024);
  {
    herald::EmbeddedRedis redis(options);
    REQUIRE(redis.start());
    redis.stop();
  }
  REQUIRE(std::filesystem::exists(log + ".1"));
  CHECK(std::filesystem::file_size(log + ".1") == 17u * 1024 * 1024);
  REQUIRE(std::filesystem::exists(log));
  CHECK(std::filesystem::file_size(log) < 1024 * 1024);
  CHECK(read_file(log).find("an earlier run") == std::string::npos);
  std::filesystem::remove_all(dir);
}
