// heraldd's log lines carry the time in the office's zone with its offset, as heraldctl prints
// times, whatever zone the machine is set to.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <regex>

#include "tests/support/herald_processes.h"
#include "tests/support/redis_server.h"

using namespace herald::test;
using nlohmann::json;

TEST_CASE("heraldd's log lines carry the office's UTC offset", "[heraldd][logging]") {
  const std::string dir = make_temp_dir("log-time");
  SimHandle sim = start_sim();
  json config = test_config(unique_key_prefix("log-time"), sim.url);
  config["office"]["utc_offset_minutes"] = 345;  // +05:45: neither this machine's zone nor UTC
  HeralddHandle daemon = start_heraldd(config, dir);
  daemon.process.signal(SIGTERM);
  REQUIRE(daemon.process.wait(std::chrono::seconds(30)) == 0);

  const std::string log = read_file(daemon.log_path);
  INFO(log);
  const std::regex line(
      R"((\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\.\d{3}\+05:45 info \[\d+\] heraldd ready)");
  std::smatch m;
  REQUIRE(std::regex_search(log, m, line));
  // The printed wall time is UTC plus 5:45: read back as UTC and less the offset, it is now.
  std::tm t{};
  t.tm_year = std::stoi(m[1]) - 1900;
  t.tm_mon = std::stoi(m[2]) - 1;
  t.tm_mday = std::stoi(m[3]);
  t.tm_hour = std::stoi(m[4]);
  t.tm_min = std::stoi(m[5]);
  t.tm_sec = std::stoi(m[6]);
  const auto printed =
      std::chrono::system_clock::from_time_t(timegm(&t)) - std::chrono::minutes(345);
  const auto off_by = std::chrono::abs(std::chrono::system_clock::now() - printed);
  CHECK(off_by < std::chrono::minutes(10));
}
