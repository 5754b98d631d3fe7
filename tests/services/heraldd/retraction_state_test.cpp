// What a retraction did on each channel, as GET /v1/items/{id} and `heraldctl show` tell it: a
// real heraldd, redis-server and herald-sim for the states a run reaches (retracted, cancelled),
// and the ledger readings for those a run cannot reach on demand (failed, unsupported, pending).
#include <array>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <string>

#include "core/clock.h"
#include "services/heraldd/retraction_state.h"
#include "tests/support/herald_processes.h"
#include "tests/support/redis_server.h"

using namespace herald;
using namespace herald::test;
using nlohmann::json;

namespace {

constexpr auto kWait = std::chrono::seconds(45);
constexpr auto kPoll = std::chrono::milliseconds(50);
const char* kPortalKey = "retraction-state-portal-key";

std::vector<std::pair<std::string, std::string>> json_headers() {
  return {{"Content-Type", "application/json"}};
}

// `heraldctl show ID` against `url` as the admin; `timeout` bounds it (a hung CLI fails the test
// instead of hanging it).
std::string heraldctl_show(const std::string& url, const std::string& id) {
  const std::string command = std::string("HERALD_TOKEN=") + kAdminToken + " timeout 60 " +
                              HERALDCTL_PATH + " --server " + url + " show " + id + " 2>&1";
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) out += buffer.data();
  const int status = pclose(pipe);
  INFO(out);
  REQUIRE(status == 0);
  return out;
}

struct Fixture {
  SimHandle sim = start_sim({"--portal-key", kPortalKey});
  std::string dir = make_temp_dir("retraction-state");
  HeralddHandle daemon;

  Fixture() {
    json config = test_config(unique_key_prefix("retraction-state"), sim.url);
    config["channels"]["portal"] = {{"url", sim.url},
                                    {"hmac_key", kPortalKey},
                                    {"app_id", "herald-test"},
                                    {"org_code", "11510000MB0000000X"},
                                    {"column", "zwdt"}};
    daemon = start_heraldd(config, dir);
  }

  HttpResponse post(const std::string& path, const json& body) {
    return http("POST", daemon.url + path, kDutyToken, body.dump(), json_headers());
  }
  std::string submit(const json& item) {
    auto r = post("/v1/items", item);
    INFO(r.body);
    REQUIRE(r.status == 201);
    return json_of(r).at("id");
  }
  json get(const std::string& id) {
    return json_of(http("GET", daemon.url + "/v1/items/" + id, kAdminToken));
  }
  void retract(const std::string& id) {
    auto r = post("/v1/items/" + id + "/retract", {{"reason", "情况已变化"}});
    INFO(r.body);
    REQUIRE(r.status == 202);
  }
  // Waits until every delivery of the item has `field` (a JSON pointer) equal to `value`.
  json wait_for(const std::string& id, const std::string& field, const std::string& value) {
    json item;
    const bool reached = wait_until(
        [&] {
          item = get(id);
          if (!item.contains("deliveries") || item["deliveries"].size() != 2) return false;
          for (const auto& d : item["deliveries"]) {
            if (d.value(json::json_pointer(field), json()) != value) return false;
          }
          return true;
        },
        kWait, kPoll);
    INFO(item.dump(2) << "\nheraldd log: " << read_file(daemon.log_path));
    REQUIRE(reached);
    return item;
  }
};

}  // namespace

TEST_CASE("each channel of a retracted item says it was withdrawn, and when", "[api][recall]") {
  Fixture f;
  json alert = sample_alert();
  alert["channels"] = {"portal", "webhook"};
  const std::string id = f.submit(alert);
  approve_twice(f.daemon.url, id);
  const json before = f.wait_for(id, "/state", "published");
  // Not retracted: no channel carries a retraction.
  for (const auto& d : before["deliveries"]) CHECK_FALSE(d.contains("retraction"));

  f.retract(id);
  const json item = f.wait_for(id, "/retraction/state", "retracted");
  for (const auto& d : item["deliveries"]) {
    const json& r = d.at("retraction");
    // The moment the platform confirmed the withdrawal, in the office's time zone.
    const std::string at = r.at("at");
    CHECK(at.ends_with("+08:00"));
    bool matched = false;
    for (const auto& recall : item.at("recalls")) {
      if (recall.at("channel") == d.at("channel")) matched = recall.at("published_at") == at;
    }
    CHECK(matched);
    CHECK_FALSE(r.contains("error"));
  }

  const std::string shown = heraldctl_show(f.daemon.url, id);
  INFO(shown);
  CHECK(shown.find("Retraction") != std::string::npos);
  std::size_t count = 0;
  for (auto pos = shown.find("已撤回"); pos != std::string::npos;
       pos = shown.find("已撤回", pos + 1)) {
    ++count;
  }
  CHECK(count == 2);
}

TEST_CASE("a channel the item never reached says the retraction cancelled it", "[api][recall]") {
  Fixture f;
  json alert = sample_alert();
  alert["channels"] = {"portal", "webhook"};
  alert["publish_at"] = format_rfc3339(SystemClock().now() + std::chrono::hours(1));
  const std::string id = f.submit(alert);
  approve_twice(f.daemon.url, id);
  f.retract(id);
  const json item = f.wait_for(id, "/retraction/state", "cancelled");
  CHECK(item.at("recalls").empty());
  for (const auto& d : item["deliveries"])
    CHECK(d["retraction"].value("at", "").ends_with("+08:00"));

  const std::string shown = heraldctl_show(f.daemon.url, id);
  INFO(shown);
  CHECK(shown.find("已取消 (cancelled)") != std::string::npos);
  CHECK(shown.find("已撤回") == std::string::npos);
}

TEST_CASE("a recall's ledger reads as the channel's retraction state", "[recall]") {
  const TimePoint t = SystemClock().now();
  DeliveryRecord original;
  original.channel = "weibo";
  original.state = DeliveryState::published;
  DeliveryRecord recall;
  recall.channel = "weibo";
  recall.updated_at = t;

  SECTION("a platform that cannot withdraw") {
    recall.state = DeliveryState::dead;
    recall.last_error_code = "recall_unsupported";
    recall.last_error = "the platform has no delete";
    const auto r = channel_retraction(&original, &recall);
    CHECK(r.state == RetractionState::unsupported);
    CHECK(r.error == "the platform has no delete");
    CHECK(r.at == t);
  }
  SECTION("a recall dead-lettered for another reason") {
    recall.state = DeliveryState::dead;
    recall.last_error_code = "auth_failed";
    recall.last_error = "token expired";
    const auto r = channel_retraction(&original, &recall);
    CHECK(r.state == RetractionState::failed);
    CHECK(r.error == "token expired");
  }
  SECTION("a recall still retrying") {
    recall.state = DeliveryState::retry_wait;
    recall.last_error = "503 from the platform";
    const auto r = channel_retraction(&original, &recall);
    CHECK(r.state == RetractionState::pending);
    CHECK(r.error == "503 from the platform");
    CHECK_FALSE(r.at);
  }
  SECTION("a published delivery whose recall is not queued yet") {
    CHECK(channel_retraction(&original, nullptr).state == RetractionState::pending);
  }
  SECTION("every state's name reads back") {
    for (auto s : {RetractionState::retracted, RetractionState::pending, RetractionState::failed,
                   RetractionState::unsupported, RetractionState::cancelled}) {
      CHECK(retraction_state_from_string(to_string(s)) == s);
    }
    CHECK_FALSE(retraction_state_from_string("published"));
  }
}
