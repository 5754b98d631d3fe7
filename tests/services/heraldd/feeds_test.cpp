// The public feeds of a real heraldd (media channel on, herald-sim as hub and webhook receiver), on
// its public listener: an approved alert appears in alerts.cap.atom and at /feeds/cap/{id}.xml,
// ETags give 304s, unknown feeds 404, and the API listener serves no feeds.
#include <catch2/catch.hpp>

#include "tests/support/herald_processes.h"
#include "tests/support/process.h"
#include "tests/support/redis_server.h"

using namespace herald::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  std::string dir = make_temp_dir("feeds");
  SimHandle sim = start_sim();
  HeralddHandle daemon;

  Fixture() {
    json config = test_config(unique_key_prefix("feeds"), sim.url);
    config["channels"]["media"] = {
        {"public_base_url", "https://www.example.gov.cn"},
        {"author", "XX省人民政府外事办公室"},
        {"feeds", {{{"name", "news"}, {"title", "新闻"}}}},
        {"websub", {{"hub", sim.url + "/websub/hub"}}},
        {"webhooks", {{{"url", sim.url + "/hooks/feeds-desk"}, {"secret", "test-secret"}}}}};
    daemon = start_heraldd(config, dir);
  }

  std::string publish_alert() {
    json alert = sample_alert();
    alert["channels"] = {"media"};
    auto r = http("POST", daemon.url + "/v1/items", kDutyToken, alert.dump(),
                  {{"Content-Type", "application/json"}});
    INFO(r.body);
    REQUIRE(r.status == 201);
    const std::string id = json_of(r).at("id");
    approve_twice(daemon.url, id);
    return id;
  }
};

}  // namespace

TEST_CASE("an approved alert is served in the CAP feed and as a CAP document", "[heraldd][feeds]") {
  Fixture f;
  const std::string id = f.publish_alert();
  const std::string cap_url = f.daemon.public_url + "/feeds/cap/" + id + ".xml";
  herald::HttpResponse doc;
  const bool served = wait_until(
      [&] {
        doc = http("GET", cap_url);
        return doc.status == 200;
      },
      20s, 50ms);
  INFO(read_file(f.daemon.log_path));
  REQUIRE(served);
  CHECK(doc.header("content-type") == "application/cap+xml; charset=utf-8");
  CHECK(doc.body.find("<identifier>" + id + "</identifier>") != std::string::npos);
  CHECK(doc.body.find("<msgType>Alert</msgType>") != std::string::npos);

  const auto feed = http("GET", f.daemon.public_url + "/feeds/alerts.cap.atom");
  REQUIRE(feed.status == 200);
  CHECK(feed.header("content-type") == "application/atom+xml; charset=utf-8");
  CHECK(feed.body.find("https://www.example.gov.cn/feeds/cap/" + id + ".xml") != std::string::npos);
  const auto rss = http("GET", f.daemon.public_url + "/feeds/news.rss");
  REQUIRE(rss.status == 200);
  CHECK(rss.header("content-type") == "application/rss+xml; charset=utf-8");
  CHECK(rss.body.find("<guid isPermaLink=\"false\">" + id + "</guid>") != std::string::npos);

  // Published means pushed too: the hub heard of the change, the webhook got the alert.
  CHECK(wait_until([&] { return sim_published(f.sim.url, "websub")["count"] == 1; }, 10s));
  // The hub ping and the webhook are separate requests of one delivery; neither waits on the other.
  CHECK(wait_until([&] { return sim_published(f.sim.url, "webhook")["count"] == 1; }, 10s));

  SECTION("a matching If-None-Match gets 304, a stale one the feed") {
    const std::string etag = feed.header("etag");
    REQUIRE_FALSE(etag.empty());
    const auto again = http("GET", f.daemon.public_url + "/feeds/alerts.cap.atom", "", "",
                            {{"If-None-Match", etag}});
    CHECK(again.status == 304);
    CHECK(again.body.empty());
    CHECK(again.header("etag") == etag);
    const auto doc_again = http("GET", cap_url, "", "", {{"If-None-Match", doc.header("etag")}});
    CHECK(doc_again.status == 304);
    const auto stale = http("GET", f.daemon.public_url + "/feeds/alerts.cap.atom", "", "",
                            {{"If-None-Match", "\"not-the-tag\""}});
    CHECK(stale.status == 200);
    CHECK(stale.body == feed.body);
  }
  SECTION("a matching If-Modified-Since gets 304 too") {
    const std::string last_modified = feed.header("last-modified");
    REQUIRE_FALSE(last_modified.empty());
    CHECK(http("GET", f.daemon.public_url + "/feeds/alerts.cap.atom", "", "",
               {{"If-Modified-Since", last_modified}})
              .status == 304);
    CHECK(
        http("GET", cap_url, "", "", {{"If-Modified-Since", doc.header("last-modified")}}).status ==
        304);
  }
  SECTION("the API listener does not serve the feeds, the public one nothing else") {
    const auto refused = http("GET", f.daemon.url + "/feeds/alerts.cap.atom");
    CHECK(refused.status == 404);
    CHECK(refused.body.find("http.public.listen") != std::string::npos);
    CHECK(http("GET", f.daemon.public_url + "/v1/items", kDutyToken).status == 404);
    CHECK(http("GET", f.daemon.public_url + "/metrics").status == 404);
    CHECK(http("GET", f.daemon.public_url + "/healthz").status == 200);
  }
  SECTION("unknown feeds and documents are 404, other methods 405") {
    CHECK(http("GET", f.daemon.public_url + "/feeds/nope.rss").status == 404);
    CHECK(http("GET", f.daemon.public_url + "/feeds/news.json").status == 404);
    CHECK(http("GET", f.daemon.public_url + "/feeds/cap/00000000000000000000000000.xml").status ==
          404);
    CHECK(http("GET", f.daemon.public_url + "/feeds/cap/..%2Fsecret.xml").status == 404);
    CHECK(http("POST", f.daemon.public_url + "/feeds/news.rss").status == 405);
  }
}
