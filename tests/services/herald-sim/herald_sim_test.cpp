// herald-sim as a process: webhooks recorded and de-duplicated, signatures checked, faults
// injected as the spec says, the control API, and the exit codes.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "adapters/http_client.h"
#include "core/digest.h"
#include "tests/support/herald_processes.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using herald::test::ChildProcess;
using herald::test::http;
using herald::test::json_of;
using herald::test::sim_published;
using herald::test::start_sim;
using herald::test::wait_until;
using nlohmann::json;

namespace {

constexpr const char* kBody = R"({"title":"hello"})";
constexpr const char* kSecret = "s3cret";
// HMAC-SHA256(key "s3cret", "1765000000." + kBody), computed outside Herald
// (printf '%s' '1765000000.{"title":"hello"}' | openssl dgst -sha256 -hmac s3cret), so a mistake
// in Herald's own HMAC code cannot hide on both sides: herald-sim must find it valid, and old.
constexpr const char* kOldTimestamp = "1765000000";
constexpr const char* kOldSignature =
    "sha256=86ab47394895da2ca0d009877aae5461e088a96b8409308c7c25eaffdc58bc07";

struct Signed {
  std::string timestamp;
  std::string signature;
};

// Signs as a sender does now: the timestamp with the body.
Signed sign_now(const std::string& body) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now().time_since_epoch());
  Signed s;
  s.timestamp = std::to_string(now.count());
  s.signature = "sha256=" + herald::hmac_sha256_hex(kSecret, s.timestamp + "." + body);
  return s;
}

herald::HttpResponse post_hook(const std::string& sim_url, const std::string& name,
                               const std::string& body, const std::string& key = "",
                               const Signed& signed_as = {}) {
  std::vector<std::pair<std::string, std::string>> headers{{"Content-Type", "application/json"}};
  if (!key.empty()) headers.emplace_back("Idempotency-Key", key);
  if (!signed_as.signature.empty()) headers.emplace_back("X-Herald-Signature", signed_as.signature);
  if (!signed_as.timestamp.empty()) headers.emplace_back("X-Herald-Timestamp", signed_as.timestamp);
  return http("POST", sim_url + "/hooks/" + name, "", body, headers);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<int> run_sim_to_exit(const std::vector<std::string>& args) {
  std::vector<std::string> argv{HERALD_SIM_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string log = herald::test::make_temp_dir("sim-exit") + "/sim.log";
  ChildProcess child = ChildProcess::spawn(argv, {}, log);
  return child.wait(10s);
}

}  // namespace

TEST_CASE("herald-sim prints the address it bound and stops cleanly on SIGTERM", "[herald_sim]") {
  std::string log = herald::test::make_temp_dir("sim-port0") + "/sim.log";
  ChildProcess sim = ChildProcess::spawn({HERALD_SIM_PATH, "--listen", "127.0.0.1:0"}, {}, log);
  std::smatch match;
  std::string output;
  const std::regex line(R"(herald-sim listening on http://127\.0\.0\.1:(\d+)\n)");
  REQUIRE(wait_until(
      [&] {
        output = read_file(log);
        return std::regex_search(output, match, line);
      },
      10s));
  std::string url = "http://127.0.0.1:" + match[1].str();
  CHECK(std::stoi(match[1].str()) > 0);

  auto health = http("GET", url + "/_sim/health");
  CHECK(health.status == 200);
  CHECK(json_of(health)["ok"] == true);

  sim.signal(SIGTERM);
  CHECK(sim.wait(10s) == std::optional<int>(0));
}

TEST_CASE("herald-sim records a webhook delivery with its name, key, headers and parsed body",
          "[herald_sim]") {
  auto sim = start_sim();
  auto response = post_hook(sim.url, "media-desk", kBody, "key-1");
  REQUIRE(response.status == 200);
  auto answer = json_of(response);
  CHECK(answer["duplicate"] == false);
  std::string id = answer["id"];
  CHECK_FALSE(id.empty());

  auto published = sim_published(sim.url, "webhook");
  CHECK(published["platform"] == "webhook");
  CHECK(published["count"] == 1);
  CHECK(published["unique_keys"] == 1);
  CHECK(published["duplicates"] == 0);
  REQUIRE(published["items"].size() == 1);
  auto item = published["items"][0];
  CHECK(item["id"] == id);
  CHECK(item["name"] == "media-desk");
  CHECK(item["idempotency_key"] == "key-1");
  CHECK(item["body"] == json::parse(kBody));
  CHECK(item["headers"]["content-type"] == "application/json");
  CHECK_FALSE(item["received_at"].get<std::string>().empty());

  SECTION("a body that is not JSON is refused and not recorded") {
    auto refused = post_hook(sim.url, "media-desk", "not json", "key-2");
    CHECK(refused.status == 400);
    CHECK(sim_published(sim.url, "webhook")["count"] == 1);
  }
}

TEST_CASE("herald-sim records a repeated Idempotency-Key once and counts the duplicate",
          "[herald_sim]") {
  auto sim = start_sim();
  auto first = json_of(post_hook(sim.url, "desk", kBody, "same-key"));
  auto second_response = post_hook(sim.url, "desk", kBody, "same-key");
  CHECK(second_response.status == 200);
  auto second = json_of(second_response);
  CHECK(second["duplicate"] == true);
  CHECK(second["id"] == first["id"]);
  post_hook(sim.url, "desk", kBody, "other-key");

  auto published = sim_published(sim.url, "webhook");
  CHECK(published["count"] == 2);
  CHECK(published["unique_keys"] == 2);
  CHECK(published["duplicates"] == 1);
}

TEST_CASE("herald-sim checks the webhook signature when it has a secret", "[herald_sim]") {
  SECTION("secret given on the command line") {
    auto sim = start_sim({"--webhook-secret", kSecret});
    const Signed good = sign_now(kBody);
    CHECK(post_hook(sim.url, "desk", kBody, "k1").status == 401);
    CHECK(
        post_hook(sim.url, "desk", kBody, "k2", {good.timestamp, "sha256=" + std::string(64, '0')})
            .status == 401);
    CHECK(post_hook(sim.url, "desk", R"({"title":"other"})", "k3", good).status == 401);
    // The signature covers the timestamp: moving it breaks the signature.
    CHECK(post_hook(sim.url, "desk", kBody, "k5", {kOldTimestamp, good.signature}).status == 401);
    // A valid signature on an old timestamp is a replay.
    auto replayed = post_hook(sim.url, "desk", kBody, "k6", {kOldTimestamp, kOldSignature});
    CHECK(replayed.status == 401);
    CHECK(json_of(replayed)["error"]["code"] == "stale_timestamp");
    CHECK(post_hook(sim.url, "desk", kBody, "k4", good).status == 200);
    auto published = sim_published(sim.url, "webhook");
    CHECK(published["count"] == 1);
    CHECK(published["items"][0]["signature"] == good.signature);
  }

  SECTION("secret set through /_sim/config") {
    auto sim = start_sim();
    CHECK(post_hook(sim.url, "desk", kBody, "k1").status == 200);
    auto configured = http("POST", sim.url + "/_sim/config", "", R"({"webhook_secret":"s3cret"})");
    REQUIRE(configured.status == 200);
    CHECK(post_hook(sim.url, "desk", kBody, "k2").status == 401);
    CHECK(post_hook(sim.url, "desk", kBody, "k3", sign_now(kBody)).status == 200);
    CHECK(http("POST", sim.url + "/_sim/config", "", R"({"nonsense":1})").status == 400);
  }
}

TEST_CASE("herald-sim fails exactly the next N requests with fail_next", "[herald_sim]") {
  auto check_fail_next = [](const std::string& sim_url) {
    CHECK(post_hook(sim_url, "desk", kBody, "k1").status == 503);
    CHECK(post_hook(sim_url, "desk", kBody, "k1").status == 503);
    auto third = post_hook(sim_url, "desk", kBody, "k1");
    CHECK(third.status == 200);
    CHECK(json_of(third)["duplicate"] == false);  // the failed attempts recorded nothing
    CHECK(sim_published(sim_url, "webhook")["count"] == 1);
  };

  SECTION("from --faults") {
    auto sim = start_sim({"--faults", "webhook:fail_next=2"});
    check_fail_next(sim.url);
  }

  SECTION("from POST /_sim/faults with a JSON body") {
    auto sim = start_sim();
    auto set = http("POST", sim.url + "/_sim/faults", "", R"({"spec":"webhook:fail_next=2"})");
    REQUIRE(set.status == 200);
    check_fail_next(sim.url);
  }

  SECTION("from POST /_sim/faults with the spec as text") {
    auto sim = start_sim();
    REQUIRE(http("POST", sim.url + "/_sim/faults", "", "webhook:fail_next=2").status == 200);
    check_fail_next(sim.url);
  }
}

TEST_CASE("herald-sim answers every webhook with 500 or 503 at a 5xx rate of 1", "[herald_sim]") {
  auto sim = start_sim({"--faults", "webhook:5xx=1"});
  for (int i = 0; i < 10; ++i) {
    auto response = post_hook(sim.url, "desk", kBody, "k" + std::to_string(i));
    CHECK((response.status == 500 || response.status == 503));
  }
  CHECK(sim_published(sim.url, "webhook")["count"] == 0);
  // Control endpoints are never faulted.
  CHECK(http("GET", sim.url + "/_sim/health").status == 200);
}

TEST_CASE("herald-sim injects 429, stalls and accept-then-5xx as the spec says", "[herald_sim]") {
  SECTION("429 carries Retry-After and records nothing") {
    auto sim = start_sim({"--faults", "webhook:429=1,retry_after_s=7"});
    auto response = post_hook(sim.url, "desk", kBody, "k1");
    CHECK(response.status == 429);
    CHECK(response.header("retry-after") == "7");
    CHECK(sim_published(sim.url, "webhook")["count"] == 0);
  }

  SECTION("a timeout fault gives no answer and records nothing") {
    auto sim = start_sim({"--faults", "webhook:timeout=1,stall_ms=50"});
    herald::HttpClient client;
    auto result = client.send(
        {"POST", sim.url + "/hooks/desk", {{"Idempotency-Key", "k1"}}, kBody, 2000ms, 5000ms});
    CHECK_FALSE(result.ok());
    CHECK(sim_published(sim.url, "webhook")["count"] == 0);
  }

  SECTION("accept_then_5xx records, answers 500, and the retry is caught as a duplicate") {
    auto sim = start_sim({"--faults", "webhook:accept_then_5xx=1"});
    CHECK(post_hook(sim.url, "desk", kBody, "k1").status == 500);
    auto retry = post_hook(sim.url, "desk", kBody, "k1");
    CHECK(retry.status == 200);
    CHECK(json_of(retry)["duplicate"] == true);
    auto published = sim_published(sim.url, "webhook");
    CHECK(published["count"] == 1);
    CHECK(published["duplicates"] == 1);
  }
}

TEST_CASE("herald-sim's timeouts come in two modes: late acts, drop does not", "[herald_sim]") {
  herald::HttpClient client;
  auto send_with_short_timeout = [&](const std::string& sim_url, const std::string& key) {
    return client.send(
        {"POST", sim_url + "/hooks/desk", {{"Idempotency-Key", key}}, kBody, 500ms, 500ms});
  };

  SECTION("late records the delivery, then answers after the client's timeout") {
    auto sim = start_sim({"--faults", "webhook:late=1,stall_ms=3000"});
    CHECK_FALSE(send_with_short_timeout(sim.url, "k1").ok());
    auto published = sim_published(sim.url, "webhook");
    REQUIRE(published["count"] == 1);
    CHECK(published["items"][0]["idempotency_key"] == "k1");
  }

  SECTION("late with a short stall still answers, with the real answer") {
    auto sim = start_sim({"--faults", "webhook:late=1,stall_ms=50"});
    auto response = post_hook(sim.url, "desk", kBody, "k1");
    CHECK(response.status == 200);
    CHECK(json_of(response)["duplicate"] == false);
  }

  SECTION("drop records nothing and never answers") {
    auto sim = start_sim({"--faults", "webhook:drop=1,stall_ms=3000"});
    CHECK_FALSE(send_with_short_timeout(sim.url, "k1").ok());
    CHECK(sim_published(sim.url, "webhook")["count"] == 0);
  }

  SECTION("timeout is the old name of drop") {
    auto sim = start_sim({"--faults", "webhook:timeout=0.25"});
    CHECK(json_of(http("GET", sim.url + "/_sim/faults"))["faults"] == "webhook:drop=0.25");
    auto both = http("POST", sim.url + "/_sim/faults", "", "webhook:drop=0.1,timeout=0.1");
    CHECK(both.status == 400);
    CHECK_THAT(both.body, Catch::Contains("timeout is another name for drop"));
  }
}

TEST_CASE("herald-sim's quota fault defers with the platform's own answer", "[herald_sim]") {
  SECTION("webhooks answer 429 with Retry-After and record nothing") {
    auto sim = start_sim({"--faults", "webhook:quota=1,retry_after_s=9"});
    auto response = post_hook(sim.url, "desk", kBody, "k1");
    CHECK(response.status == 429);
    CHECK(response.header("retry-after") == "9");
    CHECK(sim_published(sim.url, "webhook")["count"] == 0);
  }

  SECTION("the spec parser names what is wrong") {
    auto sim = start_sim();
    auto over = http("POST", sim.url + "/_sim/faults", "", "webhook:late=0.5,quota=0.6");
    CHECK(over.status == 400);
    CHECK_THAT(over.body, Catch::Contains("add up to more than 1"));
    auto smtp = http("POST", sim.url + "/_sim/faults", "", "smtp:late=0.5");
    CHECK(smtp.status == 400);
    CHECK_THAT(smtp.body, Catch::Contains("smtp:late"));
    auto fine = http("POST", sim.url + "/_sim/faults", "",
                     "weibo:quota=0.05,late=0.1;wechat:drop=0.1;portal:quota=0.2");
    CHECK(fine.status == 200);
    CHECK(json_of(fine)["faults"] == "portal:quota=0.2;wechat:drop=0.1;weibo:late=0.1,quota=0.05");
  }
}

TEST_CASE("herald-sim draws the same faults from the same seed", "[herald_sim]") {
  auto statuses = [](const std::string& sim_url) {
    std::vector<long> out;
    for (int i = 0; i < 24; ++i) out.push_back(post_hook(sim_url, "desk", kBody).status);
    return out;
  };
  auto first = start_sim({"--seed", "42", "--faults", "webhook:5xx=0.5"});
  auto second = start_sim({"--seed", "42", "--faults", "webhook:5xx=0.5"});
  auto first_statuses = statuses(first.url);
  CHECK(statuses(second.url) == first_statuses);
  std::set<long> distinct(first_statuses.begin(), first_statuses.end());
  CHECK(distinct.count(200) == 1);
  CHECK(distinct.size() >= 2);
}

TEST_CASE("herald-sim reset forgets deliveries, duplicates and faults", "[herald_sim]") {
  auto sim = start_sim();
  post_hook(sim.url, "desk", kBody, "k1");
  post_hook(sim.url, "desk", kBody, "k1");
  REQUIRE(http("POST", sim.url + "/_sim/faults", "", "webhook:fail_next=5").status == 200);

  REQUIRE(http("POST", sim.url + "/_sim/reset").status == 200);
  auto published = sim_published(sim.url, "webhook");
  CHECK(published["count"] == 0);
  CHECK(published["duplicates"] == 0);
  CHECK(published["unique_keys"] == 0);
  CHECK(published["items"].empty());
  auto again = post_hook(sim.url, "desk", kBody, "k1");  // no fault left, key forgotten
  CHECK(again.status == 200);
  CHECK(json_of(again)["duplicate"] == false);
}

TEST_CASE("herald-sim control API refuses bad input", "[herald_sim]") {
  auto sim = start_sim({"--faults", "webhook:fail_next=1"});
  SECTION("an invalid fault spec is refused and the faults stay as they were") {
    auto refused = http("POST", sim.url + "/_sim/faults", "", "webhook:5xx=3");
    CHECK(refused.status == 400);
    CHECK(json_of(http("GET", sim.url + "/_sim/faults"))["faults"] == "webhook:fail_next=1");
  }
  SECTION("published needs a known platform") {
    CHECK(http("GET", sim.url + "/_sim/published").status == 400);
    CHECK(http("GET", sim.url + "/_sim/published?platform=nosuch").status == 404);
  }
  SECTION("unknown paths are 404") {
    CHECK(http("GET", sim.url + "/nowhere").status == 404);
    CHECK(http("GET", sim.url + "/_sim/nowhere").status == 404);
  }
}

TEST_CASE("herald-sim exits 2 on bad usage and 1 when it cannot bind", "[herald_sim]") {
  SECTION("bad usage") {
    std::vector<std::string> args = GENERATE(
        std::vector<std::string>{"--listen", "127.0.0.1:0", "--faults", "webhook:5xx=2"},
        std::vector<std::string>{"--listen", "127.0.0.1:0", "--faults", "nosuch:5xx=0.1"},
        std::vector<std::string>{"--listen", "127.0.0.1:0", "--faults", "webhook:bogus=1"},
        std::vector<std::string>{"--listen", "127.0.0.1:0", "--faults", "garbage"},
        std::vector<std::string>{"--listen", "127.0.0.1:0", "--faults", "webhook:5xx=0.6,429=0.6"},
        std::vector<std::string>{"--listen", "127.0.0.1:0", "--smtp-listen", "not-an-address"},
        std::vector<std::string>{"--listen", "not-an-address"},
        std::vector<std::string>{"--no-such-option"}, std::vector<std::string>{});
    CAPTURE(args);
    CHECK(run_sim_to_exit(args) == std::optional<int>(2));
  }

  SECTION("the port is taken") {
    auto first = start_sim();
    std::string address = first.url.substr(std::string("http://").size());
    CHECK(run_sim_to_exit({"--listen", address}) == std::optional<int>(1));
  }

  SECTION("--help is not an error") {
    CHECK(run_sim_to_exit({"--help"}) == std::optional<int>(0));
  }
}
