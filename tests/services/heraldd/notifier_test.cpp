// Reviewers' notifications: a real heraldd and redis-server, herald-sim's SMTP sink and WeCom
// robot.
#include "services/heraldd/notifier.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "config/config.h"
#include "queue/redis.h"
#include "tests/support/herald_processes.h"
#include "tests/support/redis_server.h"

using namespace herald;
using namespace herald::test;
using nlohmann::json;

namespace {

constexpr const char* kConsoleUrl = "https://herald.example.gov.cn";
constexpr auto kArrival = std::chrono::seconds(20);

std::vector<std::pair<std::string, std::string>> json_headers() {
  return {{"Content-Type", "application/json"}};
}

std::string wecom_url(const SimHandle& sim) {
  return sim.url + "/cgi-bin/webhook/send?key=herald-sim-wecom-key";
}

json notify_config(const SimHandle& sim) {
  return {{"email",
           {{"smtp_url", "smtp://127.0.0.1:" + std::to_string(sim.smtp_port)},
            {"from", "herald@fao.example"},
            {"to", {"reviewers@fao.example"}},
            {"subject_prefix", "[Herald test]"},
            {"timeout_ms", 5000}}},
          {"wecom", {{"webhook_url", wecom_url(sim)}, {"timeout_ms", 5000}}}};
}

std::size_t count_of(const SimHandle& sim, const std::string& platform) {
  return sim_published(sim.url, platform).at("count").get<std::size_t>();
}

// Waits until both the sink and the robot hold `n` messages; false if either does not in time.
bool both_reach(const SimHandle& sim, std::size_t n) {
  return wait_until([&] { return count_of(sim, "smtp") >= n && count_of(sim, "wecom") >= n; },
                    kArrival, std::chrono::milliseconds(50));
}

void set_faults(const SimHandle& sim, const std::string& spec) {
  auto r = http("POST", sim.url + "/_sim/faults", "", json{{"spec", spec}}.dump(), json_headers());
  INFO(r.body);
  REQUIRE(r.status == 200);
}

struct Fixture {
  std::string prefix = unique_key_prefix("notify");
  std::string dir = make_temp_dir("notify");
  SimHandle sim = start_sim_with_smtp();
  HeralddHandle daemon;

  Fixture() {
    json config = test_config(prefix, sim.url);
    config["notify"] = notify_config(sim);
    config["console"]["public_url"] = kConsoleUrl;
    daemon = start_heraldd(config, dir);
  }

  std::string submit(const std::string& title) {
    auto r = http("POST", daemon.url + "/v1/items", kDutyToken, sample_publication(title).dump(),
                  json_headers());
    INFO(r.body);
    REQUIRE(r.status == 201);
    REQUIRE(json_of(r).at("state") == "pending_review");
    return json_of(r).at("id");
  }
};

}  // namespace

TEST_CASE("reviewers are told once by e-mail and WeCom while an item needs approvals",
          "[heraldd][notify]") {
  Fixture f;
  const std::string id = f.submit("Notice of the spring reception");
  REQUIRE(both_reach(f.sim, 1));

  json mail = sim_published(f.sim.url, "smtp").at("items").at(0);
  CHECK(mail["recipients"] == json::array({"reviewers@fao.example"}));
  CHECK(mail["subject"] ==
        "[Herald test] Review needed (publication): Notice of the spring "
        "reception");
  const std::string body = mail["body"];
  CHECK(body.find("Author: duty") != std::string::npos);
  CHECK(body.find("Approvals still needed: 2") != std::string::npos);
  CHECK(body.find(std::string(kConsoleUrl) + "/console/#/items/" + id) != std::string::npos);
  json robot = sim_published(f.sim.url, "wecom").at("items").at(0);
  CHECK(robot["msgtype"] == "markdown");
  const std::string content = robot["content"];
  CHECK(content.find("Notice of the spring reception") != std::string::npos);
  CHECK(content.find("Approvals still needed: 2") != std::string::npos);
  CHECK(content.find(std::string(kConsoleUrl) + "/console/#/items/" + id) != std::string::npos);

  // The first of two approvals: one more of each, saying one is still needed.
  REQUIRE(review(f.daemon.url, id, kReviewerToken).status == 201);
  REQUIRE(both_reach(f.sim, 2));
  mail = sim_published(f.sim.url, "smtp").at("items").at(1);
  CHECK(std::string(mail["body"]).find("Approvals still needed: 1") != std::string::npos);
  robot = sim_published(f.sim.url, "wecom").at("items").at(1);
  CHECK(std::string(robot["content"]).find("Approvals still needed: 1") != std::string::npos);

  // The last approval tells nobody. Notices go out in order, so once the next item's notice is
  // in, anything the approval had queued would be too.
  REQUIRE(review(f.daemon.url, id, kReviewer2Token).status == 201);
  f.submit("Second notice");
  REQUIRE(both_reach(f.sim, 3));
  CHECK(count_of(f.sim, "smtp") == 3);
  CHECK(count_of(f.sim, "wecom") == 3);
  CHECK(std::string(sim_published(f.sim.url, "wecom").at("items").at(2).at("content"))
            .find("Second notice") != std::string::npos);
}

TEST_CASE("a robot's rate limit (45009) is waited out and the message arrives once",
          "[heraldd][notify]") {
  Fixture f;
  set_faults(f.sim, "wecom:quota=1");
  f.submit("Rate limited notice");
  // The first attempt was refused with 45009 before the robot answers again.
  REQUIRE(
      wait_until([&] { return read_file(f.daemon.log_path).find("45009") != std::string::npos; },
                 kArrival, std::chrono::milliseconds(50)));
  CHECK(count_of(f.sim, "wecom") == 0);
  set_faults(f.sim, "");
  REQUIRE(both_reach(f.sim, 1));

  f.submit("Next notice");
  REQUIRE(both_reach(f.sim, 2));
  const json robot = sim_published(f.sim.url, "wecom");
  CHECK(robot["count"] == 2);
  CHECK(std::string(robot["items"][0]["content"]).find("Rate limited notice") != std::string::npos);
  CHECK(std::string(robot["items"][1]["content"]).find("Next notice") != std::string::npos);
  CHECK(count_of(f.sim, "smtp") == 2);
}

TEST_CASE("a robot key no robot has (93000) is dropped at once; the e-mail still goes",
          "[heraldd][notify]") {
  const std::string prefix = unique_key_prefix("notify-key");
  auto sim = start_sim_with_smtp();
  json notify = notify_config(sim);
  notify["wecom"]["webhook_url"] = sim.url + "/cgi-bin/webhook/send?key=no-such-robot";
  json config = test_config(prefix, sim.url);
  config["notify"] = notify;
  auto daemon = start_heraldd(config, make_temp_dir("notify-key"));
  auto r = http("POST", daemon.url + "/v1/items", kDutyToken,
                sample_publication("Wrong robot").dump(), json_headers());
  REQUIRE(r.status == 201);
  REQUIRE(wait_until([&] { return count_of(sim, "smtp") == 1; }, kArrival,
                     std::chrono::milliseconds(50)));
  REQUIRE(wait_until(
      [&] {
        return read_file(daemon.log_path).find("WeCom notification dropped after 1 attempt(s)") !=
               std::string::npos;
      },
      kArrival, std::chrono::milliseconds(50)));
  CHECK(read_file(daemon.log_path).find("93000") != std::string::npos);
  CHECK(count_of(sim, "wecom") == 0);
  const NotifierKeys keys(prefix);
  RedisConnection conn(test_redis_options());
  CHECK(wait_until(
      [&] {
        return conn.command({"LLEN", keys.processing})->integer == 0;
      },
      kArrival, std::chrono::milliseconds(50)));
}

TEST_CASE("a notification a dead heraldd left in processing is sent after its lease",
          "[heraldd][notify]") {
  const std::string prefix = unique_key_prefix("notify-lease");
  auto sim = start_sim_with_smtp();
  const NotifierKeys keys(prefix);
  ReviewNotice notice;
  notice.item_id = "it-abandoned";
  notice.kind = ItemKind::alert;
  notice.title = "Abandoned alert";
  notice.level = "red";
  notice.author = "drafter";
  notice.approvals_needed = 2;
  {
    RedisConnection conn(test_redis_options());
    // Taken long ago (by Redis's clock) and never finished.
    REQUIRE(conn.command({"LPUSH", keys.processing, notice.to_entry()}));
    REQUIRE(conn.command({"HSET", keys.taken, notice.to_entry(), "0"}));
  }
  auto config = parse_config(json{{"notify", notify_config(sim)}}.dump(), {}, "");
  REQUIRE(config);
  NotifierTiming timing;
  timing.lease = std::chrono::milliseconds(1);  // raised to what the timeouts need; 0 is older
  Notifier notifier(config->notify, "", prefix, test_redis_options(), timing);
  std::thread runner([&] { notifier.run(); });
  const bool arrived = both_reach(sim, 1);
  notifier.stop();
  runner.join();
  REQUIRE(arrived);
  const json robot = sim_published(sim.url, "wecom").at("items").at(0);
  CHECK(std::string(robot["content"]).find("Alert level: red") != std::string::npos);
  CHECK(std::string(robot["content"]).find("console") == std::string::npos);  // no public_url
  RedisConnection conn(test_redis_options());
  CHECK(conn.command({"LLEN", keys.processing})->integer == 0);
  CHECK(conn.command({"LLEN", keys.outbox})->integer == 0);
}

TEST_CASE("notify settings are checked at start-up, naming the key", "[config][notify]") {
  auto field_of = [](const json& notify) {
    auto parsed = parse_config(json{{"notify", notify}}.dump(), {}, "");
    REQUIRE_FALSE(parsed);
    return parsed.error().field;
  };
  const json email = {{"smtp_url", "smtp://127.0.0.1:2525"},
                      {"from", "herald@fao.example"},
                      {"to", {"reviewers@fao.example"}}};
  REQUIRE(parse_config(json{{"notify", {{"email", email}}}}.dump(), {}, ""));
  json bad = email;
  bad["to"] = {"reviewers@fao.example", "not an address"};
  CHECK(field_of({{"email", bad}}) == "notify.email.to[1]");
  bad = email;
  bad["smtp_url"] = "http://127.0.0.1:2525";
  CHECK(field_of({{"email", bad}}) == "notify.email.smtp_url");
  CHECK(field_of({{"wecom", {{"webhook_url", "ftp://x"}}}}) == "notify.wecom.webhook_url");
  CHECK(field_of({{"wecom", {{"webhook_url", "https://x"}, {"typo", 1}}}}) == "notify.wecom.typo");
  auto console = parse_config(R"({"console": {"public_url": "herald.example"}})", {}, "");
  REQUIRE_FALSE(console);
  CHECK(console.error().field == "console.public_url");
}
