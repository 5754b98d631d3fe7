// heraldd refuses a bad config at start-up with exit code 2 and a message naming the key.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "tests/support/herald_processes.h"
#include "tests/support/redis_server.h"

using namespace herald::test;
using nlohmann::json;

namespace {

struct Outcome {
  int code;
  std::string output;
};

Outcome run_heraldd(const std::string& config_text) {
  const std::string dir = make_temp_dir("cfg");
  const std::string path = dir + "/herald.json";
  std::ofstream(path) << config_text;
  auto process = ChildProcess::spawn({HERALDD_PATH, "--config", path}, {}, dir + "/out.log");
  auto code = process.wait(std::chrono::seconds(20));
  REQUIRE(code.has_value());
  std::ifstream in(dir + "/out.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return {*code, ss.str()};
}

json valid_config() {
  return test_config(unique_key_prefix("cfg"), "http://127.0.0.1:9");
}

}  // namespace

TEST_CASE("heraldd exits with code 2 and names the key on a bad config", "[config][heraldd]") {
  std::string text;
  std::string expected_key;
  SECTION("an unknown top-level key") {
    json c = valid_config();
    c["htpp"] = json::object();
    text = c.dump();
    expected_key = "htpp";
  }
  SECTION("a value of the wrong type") {
    json c = valid_config();
    c["queue"]["lease_ms"] = "ten seconds";
    text = c.dump();
    expected_key = "queue.lease_ms";
  }
  SECTION("an unknown key inside a channel's own section") {
    json c = valid_config();
    c["channels"]["webhook"]["urll"] = "http://x";
    text = c.dump();
    expected_key = "channels.webhook.urll";
  }
  SECTION("a channel Herald does not know") {
    json c = valid_config();
    c["channels"]["telegram"] = json::object();
    text = c.dump();
    expected_key = "channels.telegram";
  }
  SECTION("an environment variable that is not set") {
    json c = valid_config();
    c["channels"]["webhook"]["secret"] = "${HERALD_TEST_SURELY_UNSET_VARIABLE}";
    text = c.dump();
    expected_key = "channels.webhook.secret";
  }
  SECTION("text that is not JSON") {
    text = "{ \"http\": ";
    expected_key = "line";
  }
  const Outcome outcome = run_heraldd(text);
  INFO(outcome.output);
  CHECK(outcome.code == 2);
  CHECK(outcome.output.find(expected_key) != std::string::npos);
}

TEST_CASE("heraldd exits with code 2 when the config file is missing", "[config][heraldd]") {
  auto process = ChildProcess::spawn({HERALDD_PATH, "--config", "/nonexistent/herald.json"});
  auto code = process.wait(std::chrono::seconds(10));
  REQUIRE(code.has_value());
  CHECK(*code == 2);
}
