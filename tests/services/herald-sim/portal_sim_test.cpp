// herald-sim's portal (channel-apis.md §3) spoken to directly over HTTP, with requests signed here
// (not by the adapter), so the simulator's checks are tested on their own: headers, signature,
// clock window, nonces, Idempotency-Key replay and conflict, asynchronous review, withdrawal, the
// §5A read-back listing, and faults (quota, late) in the portal's format.
#include <time.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
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

// GET /api/v1/submissions?QUERY, signed over the bare path (the query is not part of §3's string).
herald::HttpResponse list(const std::string& sim_url, const std::string& query) {
  const std::string timestamp = now_s();
  const std::string nonce =
      "list-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  const std::string to_sign = std::string("GET\n") + kRoot + "\n" + timestamp + "\n" + nonce +
                              "\n\n" + herald::sha256_hex("");
  return http("GET", sim_url + kRoot + "?" + query, "", "",
              {{"X-Gov-AppId", "herald-test"},
               {"X-Gov-Timestamp", timestamp},
               {"X-Gov-Nonce", nonce},
               {"X-Gov-Signature", "v1=" + herald::hmac_sha256_hex(kKey, to_sign)}});
}

// RFC 3339 in UTC, percent-encoded for a query ("+" would read as a space).
std::string query_time(std::chrono::system_clock::time_point at) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(at);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S%%2B00:00", &utc);
  return text;
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

TEST_CASE("herald-sim's portal lists submissions by Idempotency-Key and by time (§5A)",
          "[sim][portal]") {
  auto sim = start_sim({"--portal-key", kKey});
  const auto before = std::chrono::system_clock::now() - 2s;
  REQUIRE(submit(sim.url, submission("d-1", "第一"), "k-1").status == 201);
  REQUIRE(submit(sim.url, submission("d-2", "第二"), "k-2").status == 201);
  REQUIRE(submit(sim.url, submission("d-3", "第三"), "k-3").status == 201);

  SECTION("by key: the one submission, or an empty list") {
    auto found = list(sim.url, "idempotency_key=k-2");
    INFO(found.body);
    REQUIRE(found.status == 200);
    const json items = json_of(found).at("items");
    REQUIRE(items.size() == 1);
    CHECK(items[0].at("id").get<std::string>().rfind("s-", 0) == 0);
    CHECK(items[0].at("status") == "pending_review");
    CHECK(items[0].at("doc_id") == "d-2");
    CHECK(items[0].at("title") == "第二");
    CHECK(items[0].at("idempotency_key") == "k-2");
    // Listing is not a status poll: the review (1 poll by default) has not moved.
    CHECK(json_of(list(sim.url, "idempotency_key=k-2")).at("items")[0].at("status") ==
          "pending_review");
    const auto unknown = list(sim.url, "idempotency_key=never");
    REQUIRE(unknown.status == 200);
    CHECK(json_of(unknown).at("items").empty());
  }

  SECTION("by time, in arrival order, page by page") {
    const std::string window =
        "from=" + query_time(before) + "&to=" + query_time(std::chrono::system_clock::now() + 60s);
    const json first = json_of(list(sim.url, window + "&page=1&page_size=2"));
    REQUIRE(first.at("items").size() == 2);
    CHECK(first.at("total") == 3);
    CHECK(first.at("has_more") == true);
    CHECK(first.at("items")[0].at("doc_id") == "d-1");
    const json second = json_of(list(sim.url, window + "&page=2&page_size=2"));
    REQUIRE(second.at("items").size() == 1);
    CHECK(second.at("items")[0].at("doc_id") == "d-3");
    CHECK(second.at("has_more") == false);
    const json none = json_of(list(sim.url, "to=" + query_time(before)));
    CHECK(none.at("total") == 0);
  }

  SECTION("bad queries are 422; unsigned is 401") {
    auto bad = list(sim.url, "from=yesterday");
    CHECK(bad.status == 422);
    CHECK(code_of(bad) == "VALIDATION_FAILED");
    CHECK(list(sim.url, "page=0").status == 422);
    CHECK(http("GET", sim.url + kRoot + "?idempotency_key=k-1").status == 401);
  }
}

TEST_CASE("herald-sim's portal shows its truth, replays, and takes quota and late faults",
          "[sim][portal]") {
  auto sim = start_sim({"--portal-key", kKey});

  SECTION("/_sim/published lists doc_id, key, title and status; withdrawn ones are marked") {
    auto created = submit(sim.url, submission("d-9", "撤回的"), "k-9");
    REQUIRE(created.status == 201);
    const std::string id = json_of(created).at("submission_id");
    auto replay = submit(sim.url, submission("d-9", "撤回的"), "k-9");
    CHECK(replay.status == 200);
    CHECK(replay.header("idempotent-replayed") == "true");
    auto conflict = submit(sim.url, submission("d-9", "改了"), "k-9");
    CHECK(conflict.status == 409);
    CHECK(code_of(conflict) == "IDEMPOTENCY_CONFLICT");
    REQUIRE(send(sim.url, "POST", std::string(kRoot) + "/" + id + "/withdraw", "{}").status == 200);
    const json truth = sim_published(sim.url, "portal");
    CHECK(truth.at("count") == 1);
    CHECK(truth.at("live") == 0);
    CHECK(truth.at("withdrawn") == 1);
    const json& item = truth.at("items")[0];
    CHECK(item.at("doc_id") == "d-9");
    CHECK(item.at("idempotency_key") == "k-9");
    CHECK(item.at("title") == "撤回的");
    CHECK(item.at("status") == "withdrawn");
    CHECK(item.at("withdrawn") == true);
  }

  SECTION("quota answers 429 with Retry-After and records nothing") {
    REQUIRE(http("POST", sim.url + "/_sim/faults", "", "portal:quota=1,retry_after_s=4").status ==
            200);
    auto limited = submit(sim.url, submission("d-1"), "k-1");
    CHECK(limited.status == 429);
    CHECK(limited.header("retry-after") == "4");
    CHECK(sim_published(sim.url, "portal").at("count") == 0);
  }

  SECTION("late: the submission is made; a retry with the same key is a replay") {
    REQUIRE(http("POST", sim.url + "/_sim/faults", "", "portal:late=1,stall_ms=3000").status ==
            200);
    const std::string body = submission("d-5").dump();
    const std::string timestamp = now_s();
    const std::string nonce = "late-nonce-1";
    const std::string to_sign = std::string("POST\n") + kRoot + "\n" + timestamp + "\n" + nonce +
                                "\nk-5\n" + herald::sha256_hex(body);
    herald::HttpClient client;
    auto result =
        client.send({"POST",
                     sim.url + kRoot,
                     {{"Content-Type", "application/json"},
                      {"X-Gov-AppId", "herald-test"},
                      {"X-Gov-Timestamp", timestamp},
                      {"X-Gov-Nonce", nonce},
                      {"Idempotency-Key", "k-5"},
                      {"X-Gov-Signature", "v1=" + herald::hmac_sha256_hex(kKey, to_sign)}},
                     body,
                     500ms,
                     500ms});
    CHECK_FALSE(result.ok());
    REQUIRE(http("POST", sim.url + "/_sim/faults", "", "").status == 200);
    CHECK(json_of(list(sim.url, "idempotency_key=k-5")).at("items").size() == 1);
    auto retry = submit(sim.url, submission("d-5"), "k-5");
    CHECK(retry.status == 200);
    CHECK(retry.header("idempotent-replayed") == "true");
    CHECK(sim_published(sim.url, "portal").at("count") == 1);
  }
}
