// herald-sim's WebSub hub: publish pings recorded as platform "websub", bad pings refused.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/herald_processes.h"

using herald::test::http;
using herald::test::sim_published;
using herald::test::start_sim;
using nlohmann::json;

namespace {

herald::HttpResponse ping(const std::string& sim_url, const std::string& body,
                          const std::string& content_type = "application/x-www-form-urlencoded") {
  return http("POST", sim_url + "/websub/hub", "", body, {{"Content-Type", content_type}});
}

}  // namespace

TEST_CASE("the WebSub hub records a publish ping and answers 204", "[herald_sim][websub]") {
  auto sim = start_sim();
  // Both names of the topic, as Herald sends them (channel-apis.md §4.4); one URL recorded.
  auto response = ping(sim.url,
                       "hub.mode=publish&hub.url=http%3A%2F%2Fherald.example%2Ffeeds%2Falerts.atom"
                       "&hub.topic=http%3A%2F%2Fherald.example%2Ffeeds%2Falerts.atom");
  CHECK(response.status == 204);
  CHECK(response.body.empty());
  REQUIRE(ping(sim.url,
               "hub.mode=publish&hub.url=https://herald.example/a.rss&hub.url=https://"
               "herald.example/b.atom")
              .status == 204);

  json published = sim_published(sim.url, "websub");
  CHECK(published["platform"] == "websub");
  REQUIRE(published["count"] == 2);
  CHECK(published["items"][0]["urls"] == json::array({"http://herald.example/feeds/alerts.atom"}));
  CHECK(published["items"][1]["urls"] ==
        json::array({"https://herald.example/a.rss", "https://herald.example/b.atom"}));
}

TEST_CASE("the WebSub hub refuses pings without a valid hub.url", "[herald_sim][websub]") {
  auto sim = start_sim();
  SECTION("missing hub.url") {
    CHECK(ping(sim.url, "hub.mode=publish").status == 400);
  }
  SECTION("not an http(s) URL") {
    CHECK(ping(sim.url, "hub.mode=publish&hub.url=feeds%2Falerts.atom").status == 400);
    CHECK(ping(sim.url, "hub.mode=publish&hub.url=ftp://herald.example/a").status == 400);
  }
  SECTION("broken percent escape") {
    CHECK(ping(sim.url, "hub.mode=publish&hub.url=http://a.example/%zz").status == 400);
  }
  SECTION("other modes are not simulated") {
    CHECK(ping(sim.url,
               "hub.mode=subscribe&hub.topic=http://a.example/f&hub.callback=http://"
               "b.example/cb")
              .status == 400);
  }
  SECTION("not form-encoded") {
    CHECK(ping(sim.url, R"({"hub.mode":"publish"})", "application/json").status == 400);
  }
  SECTION("not POST") {
    auto response = http("GET", sim.url + "/websub/hub");
    CHECK(response.status == 405);
  }
  CHECK(sim_published(sim.url, "websub")["count"] == 0);
}
