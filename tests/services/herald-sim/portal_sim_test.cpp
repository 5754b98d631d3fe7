// herald-sim's portal (channel-apis.md §3) spoken to directly over HTTP, with requests signed here
// (not by the adapter), so the simulator's checks are tested on their own: headers, signature,
// clock window, nonces, Idempotency-Key replay and conflict, asynchronous review, withdrawal.
#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "adapters/http_client.h"
#include "core/digest.h"
#include "tests/support/herald_processes.h"
#include "tests/support/process.h"

using herald::test::http;
using herald::test::json_of;
using herald::test::sim_published;
using herald::test::start_sim;
using herald::test::wait_until;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kKey = "portal-test-key";
constexpr const char* kRoot = "/api/v1/submissions";

struct Signed {
  std::string timestamp;
  std::string nonce;
  std::string key;  // Idempotency-Key, "" for none
  std::string app_id = "herald-test";
  std::string hmac_key = kKey;
  bool with_signature = true;
};

std::string now_s(std::chrono::seconds shift = 0s) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch() + shift)
                            .count());
}

herald::HttpResponse send(const std::string& sim_url, const std::string& method,
                          const std::string& path, const std::string& body, Signed s = {}) {
  if (s.timestamp.empty()) s.timestamp = now_s();
  if (s.nonce.empty()) {
    s.nonce = "nonce-" + std::to_string(std::random_device{}()) + "-" +
              std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  const std::string to_sign = method + "\n" + path + "\n" + s.timestamp + "\n" + s.nonce + "\n" +
                              s.key + "\n" + herald::sha256_hex(body);
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/json; charset=utf-8"},
      {"X-Gov-AppId", s.app_id},
      {"X-Gov-Timestamp", s.timestamp},
      {"X-Gov-Nonce", s.nonce}};
  if (s.with_signature) {
    headers.emplace_back("X-Gov-Signature", "v1=" + herald::hmac_sha256_hex(s.hmac_key, to_sign));
  }
  if (!s.key.empty()) headers.emplace_back("Idempotency-Key", s.key);
  return http(method, sim_url + path, "", body, headers);
}

json submission(const std::string& doc_id, const std::string& title = "通知") {
  return {{"org_code", "11440000MB2C12345X"},
          {"doc_id", doc_id},
          {"version", 1},
          {"doc_type", "news"},
          {"channel", "zwdt"},
          {"title", title},
          {"content_html", "<p>正文</p>"},
          {"publish_time", nullptr}};
}

herald::HttpResponse submit(const std::string& sim_url, const json& body, const std::string& key) {
  Signed s;
  s.key = key;
  return send(sim_url, "POST", kRoot, body.dump(), s);
}

herald::HttpResponse poll(const std::string& sim_url, const std::string& id) {
  return send(sim_url, "GET", std::string(kRoot) + "/" + id, "");
}

void configure(const std::string& sim_url, const json& settings) {
  auto r = http("POST", sim_url + "/_sim/config", "", settings.dump(),
                {{"Content-Type", "application/json"}});
  INFO(r.body);
  REQUIRE(r.status == 200);
}

std::string code_of(const herald::HttpResponse& r) {
  return json_of(r).value("code", "");
}

}  // namespace

TEST_CASE("the test's own signing matches the openssl CLI", "[sim][portal]") {
  // printf 'POST\n/api/v1/submissions\n1764403200\n3f0c…8e9f\nherald-it-1.portal\n%s'
  //   "$(printf '%s' '{"title":"t"}' | openssl dgst -sha256 -r | cut -d' ' -f1)" |
  //   openssl dgst -sha256 -hmac portal-test-key
  const std::string to_sign = std::string("POST\n/api/v1/submissions\n1764403200\n") +
                              "3f0c1e4a-8a6b-4c1e-9d3f-2b7a5c6d8e9f\nherald-it-1.portal\n" +
                              herald::sha256_hex(R"({"title":"t"})");
  CHECK(herald::hmac_sha256_hex(kKey, to_sign) ==
        "de3f038e850cd752a0b86082c5e03a79253555d31025d2160e2bfb8aef01302a");
}

TEST_CASE("herald-sim's portal checks identification, clock, signature and nonce",
          "[sim][portal]") {
  auto sim = start_sim({"--portal-key", kKey});
  configure(sim.url, {{"portal_app_id", "herald-test"}});
  const std::string body = submission("d-1").dump();

  SECTION("a correctly signed submission is 201 pending_review") {
    Signed s;
    s.key = "k-1";
    auto r = send(sim.url, "POST", kRoot, body, s);
    INFO(r.body);
    REQUIRE(r.status == 201);
    CHECK(json_of(r).at("status") == "pending_review");
    CHECK(json_of(r).at("submission_id").get<std::string>().rfind("s-", 0) == 0);
  }

  SECTION("refusals record nothing") {
    struct Case {
      const char* what;
      Signed s;
      int status;
      const char* code;
    };
    Signed wrong_key;
    wrong_key.hmac_key = "other";
    Signed unsigned_request;
    unsigned_request.with_signature = false;
    Signed skewed;
    skewed.timestamp = now_s(-400s);
    Signed stranger;
    stranger.app_id = "someone-else";
    const std::vector<Case> cases = {
        {"wrong key", wrong_key, 401, "SIGNATURE_INVALID"},
        {"no signature", unsigned_request, 401, "SIGNATURE_INVALID"},
        {"old timestamp", skewed, 401, "TIMESTAMP_SKEW"},
        {"unknown app", stranger, 403, "ORG_NOT_AUTHORIZED"},
    };
    for (auto c : cases) {
      CAPTURE(c.what);
      c.s.key = "k-2";
      auto r = send(sim.url, "POST", kRoot, body, c.s);
      CHECK(r.status == c.status);
      CHECK(code_of(r) == c.code);
      CHECK(json_of(r).contains("request_id"));
    }
    // The signature covers the Idempotency-Key: swapping it breaks the signature.
    Signed s;
    s.key = "k-3";
    s.nonce = "fixed-nonce";
    auto first = send(sim.url, "POST", kRoot, body, s);
    REQUIRE(first.status == 201);
    Signed again;
    again.key = "k-4";
    again.nonce = "fixed-nonce";
    auto reused = send(sim.url, "POST", kRoot, submission("d-2").dump(), again);
    CHECK(reused.status == 401);
    CHECK(code_of(reused) == "NONCE_REUSED");
    CHECK(sim_published(sim.url, "portal").at("count") == 1);
  }
}

TEST_CASE("herald-sim's portal replays a repeated submission and refuses a changed one",
          "[sim][portal]") {
  auto sim = start_sim({"--portal-key", kKey});
  auto first = submit(sim.url, submission("d-1"), "k-1");
  REQUIRE(first.status == 201);
  CHECK(first.header("idempotent-replayed").empty());

  auto replay = submit(sim.url, submission("d-1"), "k-1");
  CHECK(replay.status == 200);
  CHECK(replay.header("idempotent-replayed") == "true");
  CHECK(json_of(replay) == json_of(first));

  auto conflict = submit(sim.url, submission("d-1", "另一个标题"), "k-1");
  CHECK(conflict.status == 409);
  CHECK(code_of(conflict) == "IDEMPOTENCY_CONFLICT");

  const json records = sim_published(sim.url, "portal");
  CHECK(records.at("count") == 1);
  CHECK(records.at("duplicates") == 1);
  CHECK(records.at("conflicts") == 1);
  CHECK(records.at("items").at(0).at("idempotency_key") == "k-1");
  CHECK(records.at("items").at(0).at("body").at("doc_id") == "d-1");
}

TEST_CASE("herald-sim's portal validates fields with §3's 422 and errors list", "[sim][portal]") {
  auto sim = start_sim({});
  json bad = submission("d-1", std::string(700, 'x'));
  bad.erase("org_code");
  auto r = submit(sim.url, bad, "k-1");
  REQUIRE(r.status == 422);
  CHECK(code_of(r) == "VALIDATION_FAILED");
  const json errors = json_of(r).at("errors");
  CHECK(errors.size() == 2);
  CHECK(errors.at(0) == json{{"field", "org_code"}, {"reason", "invalid"}});
  CHECK(errors.at(1) == json{{"field", "title"}, {"reason", "too_long"}});

  auto no_key = submit(sim.url, submission("d-2"), "");
  CHECK(no_key.status == 422);
  CHECK(sim_published(sim.url, "portal").at("count") == 0);
}

TEST_CASE("herald-sim's portal reviews asynchronously, rejects on request, and withdraws",
          "[sim][portal]") {
  auto sim = start_sim({"--portal-key", kKey});

  SECTION("published after the configured number of status polls") {
    configure(sim.url, {{"portal_publish_after_polls", 2}});
    const std::string id = json_of(submit(sim.url, submission("d-1"), "k-1")).at("submission_id");
    auto one = poll(sim.url, id);
    REQUIRE(one.status == 200);
    CHECK(json_of(one).at("status") == "pending_review");
    auto two = poll(sim.url, id);
    CHECK(json_of(two).at("status") == "published");
    CHECK(json_of(two).at("published_url").get<std::string>().find(id) != std::string::npos);
    CHECK(sim_published(sim.url, "portal").at("items").at(0).at("polls") == 2);
  }

  SECTION("published after the configured time, without polls") {
    configure(sim.url, {{"portal_publish_after_polls", 0}, {"portal_publish_after_ms", 50}});
    REQUIRE(submit(sim.url, submission("d-1"), "k-1").status == 201);
    CHECK(wait_until(
        [&] {
          return sim_published(sim.url, "portal").at("items").at(0).at("state") == "published";
        },
        5s));
  }

  SECTION("reject_next rejects the next submission only, with the reason") {
    configure(sim.url, {{"portal_reject_next", "栏目不符"}});
    const std::string rejected =
        json_of(submit(sim.url, submission("d-1"), "k-1")).at("submission_id");
    const std::string fine = json_of(submit(sim.url, submission("d-2"), "k-2")).at("submission_id");
    auto r = poll(sim.url, rejected);
    CHECK(json_of(r).at("status") == "rejected");
    CHECK(json_of(r).at("reason") == "栏目不符");
    CHECK(json_of(poll(sim.url, fine)).at("status") == "published");
  }

  SECTION("withdraw, withdraw again, unknown ids") {
    const std::string id = json_of(submit(sim.url, submission("d-1"), "k-1")).at("submission_id");
    const std::string path = std::string(kRoot) + "/" + id + "/withdraw";
    auto withdrawn = send(sim.url, "POST", path, R"({"reason":"retracted"})");
    REQUIRE(withdrawn.status == 200);
    CHECK(json_of(withdrawn).at("status") == "withdrawn");
    CHECK(json_of(poll(sim.url, id)).at("status") == "withdrawn");
    auto again = send(sim.url, "POST", path, R"({"reason":"retracted"})");
    CHECK(again.status == 409);
    CHECK(code_of(again) == "ALREADY_WITHDRAWN");
    const json item = sim_published(sim.url, "portal").at("items").at(0);
    CHECK(item.at("withdrawn") == true);
    CHECK(item.at("withdraw_reason") == "retracted");
    CHECK(poll(sim.url, "s-999").status == 404);
    CHECK(send(sim.url, "POST", std::string(kRoot) + "/s-999/withdraw", "{}").status == 404);
    CHECK(send(sim.url, "GET", std::string(kRoot) + "/" + id + "/withdraw", "").status == 405);
  }
}

TEST_CASE("herald-sim's portal takes faults, config and reset through the control API",
          "[sim][portal]") {
  auto sim = start_sim({"--faults", "portal:fail_next=1"});
  auto failed = submit(sim.url, submission("d-1"), "k-1");
  CHECK(failed.status == 503);
  CHECK(code_of(failed) == "SERVICE_UNAVAILABLE");
  CHECK(submit(sim.url, submission("d-1"), "k-1").status == 201);

  auto config = json_of(http("GET", sim.url + "/_sim/config"));
  CHECK(config.at("portal_key_set") == false);
  CHECK(config.at("portal_publish_after_polls") == 1);
  auto refused =
      http("POST", sim.url + "/_sim/config", "", json{{"portal_publish_after_polls", "two"}}.dump(),
           {{"Content-Type", "application/json"}});
  CHECK(refused.status == 400);

  REQUIRE(http("POST", sim.url + "/_sim/reset").status == 200);
  CHECK(sim_published(sim.url, "portal").at("count") == 0);
  // After a reset the same key is new again.
  CHECK(submit(sim.url, submission("d-1"), "k-1").status == 201);
}
