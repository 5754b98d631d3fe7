// herald-sim's WeCom group robot: what it accepts, its refusals (HTTP 200 with an errcode, as the
// real robot answers), its rate limit, injected faults, and what a test reads back.
#include <catch2/catch.hpp>
#include <string>

#include "tests/support/herald_processes.h"

using namespace herald;
using namespace herald::test;
using nlohmann::json;

namespace {

const std::string kKey = "herald-sim-wecom-key";

HttpResponse send(const SimHandle& sim, const std::string& key, const json& body) {
  return http("POST", sim.url + "/cgi-bin/webhook/send?key=" + key, "", body.dump(),
              {{"Content-Type", "application/json"}});
}

json markdown(const std::string& content) {
  return {{"msgtype", "markdown"}, {"markdown", {{"content", content}}}};
}

// The errcode of an answer that must come with HTTP 200.
long errcode_of(const HttpResponse& r) {
  INFO(r.body);
  CHECK(r.status == 200);
  return json_of(r).at("errcode").get<long>();
}

}  // namespace

TEST_CASE("the WeCom robot takes text and markdown and shows what it received", "[sim][wecom]") {
  SimHandle sim = start_sim();
  CHECK(errcode_of(send(sim, kKey, markdown("**待审核** 安全提醒"))) == 0);
  CHECK(errcode_of(send(sim, kKey, {{"msgtype", "text"}, {"text", {{"content", "纯文本"}}}})) == 0);
  const json got = sim_published(sim.url, "wecom");
  REQUIRE(got.at("count") == 2);
  CHECK(got["items"][0].at("msgtype") == "markdown");
  CHECK(got["items"][0].at("content") == "**待审核** 安全提醒");
  CHECK(got["items"][0].at("key") == kKey);
  CHECK(got["items"][1].at("content") == "纯文本");
}

TEST_CASE("the WeCom robot refuses as the real one does", "[sim][wecom]") {
  SimHandle sim = start_sim();
  CHECK(errcode_of(send(sim, "no-such-robot", markdown("x"))) == 93000);
  CHECK(errcode_of(send(sim, kKey, {{"msgtype", "image"}})) == 40008);
  CHECK(errcode_of(send(sim, kKey, markdown(""))) == 44004);
  CHECK(errcode_of(send(sim, kKey, markdown(std::string(4097, 'a')))) == 40058);
  CHECK(sim_published(sim.url, "wecom").at("count") == 0);

  // 20 messages a minute per robot; the 21st is refused and not recorded.
  for (int i = 0; i < 20; ++i) REQUIRE(errcode_of(send(sim, kKey, markdown("m"))) == 0);
  CHECK(errcode_of(send(sim, kKey, markdown("one too many"))) == 45009);
  CHECK(sim_published(sim.url, "wecom").at("count") == 20);
}

TEST_CASE("the WeCom robot's injected faults", "[sim][wecom]") {
  SECTION("quota answers 45009") {
    SimHandle sim = start_sim({"--faults", "wecom:quota=1"});
    CHECK(errcode_of(send(sim, kKey, markdown("x"))) == 45009);
    CHECK(sim_published(sim.url, "wecom").at("count") == 0);
  }
  SECTION("5xx answers a server error with an errcode") {
    SimHandle sim = start_sim({"--faults", "wecom:5xx=1.0"});
    const auto r = send(sim, kKey, markdown("x"));
    CHECK(r.status >= 500);
    CHECK(json_of(r).at("errcode") == -1);
  }
}
