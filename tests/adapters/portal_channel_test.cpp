// Tests for adapters/portal/: the pure parts (answer classification, the §3 signature checked
// against a vector computed with the openssl CLI, the body, config validation) and the channel end
// to end against the real herald-sim's PortalSim (signature checks, replays, asynchronous review).
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "adapters/portal/portal_channel.h"
#include "tests/adapters/settings_problems.h"
#include "tests/support/herald_processes.h"
#include "tests/support/process.h"
#include "tests/support/test_time.h"

using herald::Delivery;
using herald::ErrorKind;
using herald::PortalChannel;
using herald::PortalSettings;
using herald::test::http;
using herald::test::sim_published;
using herald::test::start_sim;
using herald::test::time_at;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kKey = "portal-test-key";
constexpr const char* kOrgCode = "11440000MB2C12345X";

json item_for(const std::string& item_id, const std::string& title = "关于开展安全检查的通知") {
  return json{{"id", item_id},
              {"kind", "publication"},
              {"category", "work_news"},
              {"title", title},
              {"summary", "摘要"},
              {"body", "第一段 <b>\n\n第二段 & more"},
              {"link", "https://www.example.gov.cn/a/1.html"},
              {"created_at", "2026-11-29T09:00:00+08:00"},
              {"channels", {"portal"}}};
}

Delivery delivery_for(const std::string& item_id, int attempt = 1,
                      const json& item = json(nullptr)) {
  Delivery d;
  d.item_id = item_id;
  d.channel = "portal";
  d.id = herald::delivery_id_for(item_id, "portal");
  d.kind = herald::DeliveryKind::publication;
  d.category = "work_news";
  d.attempt = attempt;
  d.payload = (item.is_null() ? item_for(item_id) : item).dump();
  return d;
}

PortalSettings settings_for(const std::string& url, const std::string& key = kKey) {
  PortalSettings s;
  s.url = url;
  s.hmac_key = key;
  s.app_id = "herald-test";
  s.org_code = kOrgCode;
  s.column = "zwdt";
  s.field_map = herald::portal_default_field_map();
  s.status_poll_attempts = 5;
  s.status_poll_interval = 10ms;
  s.connect_timeout = 2000ms;
  s.timeout = 5000ms;
  return s;
}

void configure_sim(const std::string& sim_url, const json& settings) {
  auto response = http("POST", sim_url + "/_sim/config", "", settings.dump(),
                       {{"Content-Type", "application/json"}});
  INFO(response.body);
  REQUIRE(response.status == 200);
}

void set_faults(const std::string& sim_url, const std::string& spec) {
  auto response = http("POST", sim_url + "/_sim/faults", "", spec);
  INFO(response.body);
  REQUIRE(response.status == 200);
}

json portal_records(const std::string& sim_url) {
  return sim_published(sim_url, "portal");
}

}  // namespace

TEST_CASE("classify_portal_response maps every §3 answer onto a kind and code",
          "[adapters][portal]") {
  const auto now = time_at("2026-11-29T08:00:00+00:00");
  struct Case {
    long status;
    const char* replayed;
    const char* retry_after;
    const char* body;
    std::optional<ErrorKind> kind;  // nullopt: success
    const char* code;               // error code, or the answer's submission_id on success
    const char* says;               // in the message (errors only)
  };
  const std::vector<Case> cases = {
      {201, "", "", R"({"submission_id":"s-1","status":"pending_review"})", std::nullopt, "s-1",
       ""},
      {200, "true", "", R"({"submission_id":"s-1","status":"pending_review"})", std::nullopt, "s-1",
       ""},
      {200, "", "", R"({"submission_id":"s-2","status":"published"})", std::nullopt, "s-2", ""},
      {409, "", "", R"({"code":"DUPLICATE","submission_id":"s-3"})", std::nullopt, "s-3", ""},
      {409, "", "", R"({"code":"ALREADY_WITHDRAWN","submission_id":"s-4"})", std::nullopt, "s-4",
       ""},
      {409, "", "", R"({"code":"IDEMPOTENCY_CONFLICT","message":"different body"})",
       ErrorKind::permanent, "idempotency_conflict", "different body"},
      {409, "", "", "", ErrorKind::permanent, "idempotency_conflict", "HTTP 409"},
      {401, "", "", R"({"code":"SIGNATURE_INVALID","message":"bad"})", ErrorKind::permanent,
       "signature_invalid", "check hmac_key and app_id"},
      {401, "", "", R"({"code":"NONCE_REUSED"})", ErrorKind::permanent, "nonce_reused",
       "signature"},
      {401, "", "", R"({"code":"TIMESTAMP_SKEW"})", ErrorKind::retryable, "timestamp_skew",
       "clock"},
      {403, "", "", R"({"code":"ORG_NOT_AUTHORIZED"})", ErrorKind::permanent, "org_not_authorized",
       "org_code"},
      {413, "", "", R"({"code":"PAYLOAD_TOO_LARGE"})", ErrorKind::permanent, "payload_too_large",
       "too large"},
      {422, "", "",
       R"({"code":"VALIDATION_FAILED","errors":[{"field":"title","reason":"too_long"}]})",
       ErrorKind::permanent, "validation_failed", "title: too_long"},
      {429, "", "30", R"({"code":"RATE_LIMITED"})", ErrorKind::deferred, "rate_limited",
       "HTTP 429"},
      {500, "", "", "oops", ErrorKind::ambiguous, "http_500", "oops"},
      {502, "", "", "", ErrorKind::ambiguous, "http_502", "HTTP 502"},
      {503, "", "5", R"({"code":"SERVICE_UNAVAILABLE"})", ErrorKind::ambiguous,
       "service_unavailable", "HTTP 503"},
      {408, "", "", "", ErrorKind::retryable, "http_408", "HTTP 408"},
      {404, "", "", R"({"code":"SUBMISSION_NOT_FOUND"})", ErrorKind::permanent,
       "submission_not_found", "HTTP 404"},
      {400, "", "", "bad", ErrorKind::permanent, "http_400", "bad"},
      {302, "", "", "", ErrorKind::permanent, "http_302", "unexpected"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.status, c.body);
    auto result =
        herald::classify_portal_response(c.status, c.replayed, c.retry_after, c.body, now);
    if (!c.kind) {
      REQUIRE(result.ok());
      CHECK(result->submission_id == c.code);
      continue;
    }
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == *c.kind);
    CHECK(result.error().code == c.code);
    CHECK_THAT(result.error().message, Catch::Contains(c.says));
  }

  SECTION("the replay and withdrawal markers are reported") {
    auto replay =
        herald::classify_portal_response(200, "true", "", R"({"submission_id":"s"})", now);
    REQUIRE(replay.ok());
    CHECK(replay->replayed);
    auto fresh = herald::classify_portal_response(201, "", "", R"({"submission_id":"s"})", now);
    REQUIRE(fresh.ok());
    CHECK_FALSE(fresh->replayed);
    auto withdrawn =
        herald::classify_portal_response(409, "", "", R"({"code":"ALREADY_WITHDRAWN"})", now);
    REQUIRE(withdrawn.ok());
    CHECK(withdrawn->code == "ALREADY_WITHDRAWN");
  }

  SECTION("Retry-After is honoured on 429 and 5xx, in seconds or as an HTTP-date") {
    auto limited = herald::classify_portal_response(429, "", "30", "", now);
    REQUIRE_FALSE(limited.ok());
    CHECK(limited.error().retry_after == 30s);
    auto dated =
        herald::classify_portal_response(503, "", "Sun, 29 Nov 2026 08:01:30 GMT", "", now);
    REQUIRE_FALSE(dated.ok());
    CHECK(dated.error().retry_after == 90s);
    auto none = herald::classify_portal_response(500, "", "", "", now);
    REQUIRE_FALSE(none.ok());
    CHECK_FALSE(none.error().retry_after.has_value());
  }
}

TEST_CASE("portal_signature is §3's v1 HMAC-SHA256 over method, path, time, nonce, key, body hash",
          "[adapters][portal]") {
  // Computed outside Herald:
  //   H=$(printf '%s' '{"title":"t"}' | openssl dgst -sha256 -r | cut -d' ' -f1)
  //   printf 'POST\n/api/v1/submissions\n1764403200\n3f0c…8e9f\nherald-it-1.portal\n%s' "$H" |
  //     openssl dgst -sha256 -hmac portal-test-key
  CHECK(herald::portal_signature(kKey, "POST", "/api/v1/submissions", "1764403200",
                                 "3f0c1e4a-8a6b-4c1e-9d3f-2b7a5c6d8e9f", "herald-it-1.portal",
                                 R"({"title":"t"})") ==
        "v1=de3f038e850cd752a0b86082c5e03a79253555d31025d2160e2bfb8aef01302a");
  // A GET signs an empty key and the hash of an empty body.
  CHECK(herald::portal_signature(kKey, "GET", "/api/v1/submissions/s-1", "1764403200", "n-1", "",
                                 "") ==
        "v1=70f8daf1c0ce940f2733b9dd4b5e6ac318be181b41b52696a74379aff7952ae6");
}

TEST_CASE("portal_submission_body uses §3's names, the field map, and never changes on retry",
          "[adapters][portal]") {
  PortalSettings settings = settings_for("https://portal.example.gov.cn");

  SECTION("default names") {
    auto body = herald::portal_submission_body(delivery_for("it-1"), settings);
    REQUIRE(body.ok());
    const json parsed = json::parse(*body);
    CHECK(parsed.at("org_code") == kOrgCode);
    CHECK(parsed.at("doc_id") == "it-1");
    CHECK(parsed.at("version") == 1);
    CHECK(parsed.at("doc_type") == "news");
    CHECK(parsed.at("channel") == "zwdt");
    CHECK(parsed.at("title") == "关于开展安全检查的通知");
    CHECK(parsed.at("summary") == "摘要");
    CHECK(parsed.at("content_html") == "<p>第一段 &lt;b&gt;</p><p>第二段 &amp; more</p>");
    CHECK(parsed.at("source_url") == "https://www.example.gov.cn/a/1.html");
    CHECK(parsed.at("publish_time") == "2026-11-29T09:00:00+08:00");
    CHECK(parsed.at("expires_at").is_null());
    // Attempt 3 of the same delivery sends the same bytes.
    auto again = herald::portal_submission_body(delivery_for("it-1", 3), settings);
    REQUIRE(again.ok());
    CHECK(*again == *body);
  }

  SECTION("publish_at wins over created_at; alerts are doc_type alert with their expiry") {
    json item = item_for("it-2");
    item["kind"] = "alert";
    item["publish_at"] = "2026-12-01T08:00:00+08:00";
    item["alert"] = {{"expires", "2026-12-31T00:00:00+08:00"}};
    item["index_no"] = "000014349/2026-00001";
    auto body = herald::portal_submission_body(delivery_for("it-2", 1, item), settings);
    REQUIRE(body.ok());
    const json parsed = json::parse(*body);
    CHECK(parsed.at("doc_type") == "alert");
    CHECK(parsed.at("publish_time") == "2026-12-01T08:00:00+08:00");
    CHECK(parsed.at("expires_at") == "2026-12-31T00:00:00+08:00");
    CHECK(parsed.at("index_no") == "000014349/2026-00001");
  }

  SECTION("the field map renames and drops fields") {
    settings.field_map["title"] = "biaoti";
    settings.field_map["link"] = "";
    auto body = herald::portal_submission_body(delivery_for("it-3"), settings);
    REQUIRE(body.ok());
    const json parsed = json::parse(*body);
    CHECK(parsed.at("biaoti") == "关于开展安全检查的通知");
    CHECK_FALSE(parsed.contains("title"));
    CHECK_FALSE(parsed.contains("source_url"));
  }

  SECTION("a payload that is not a JSON object is permanent") {
    Delivery broken = delivery_for("it-4");
    broken.payload = "{not json";
    auto body = herald::portal_submission_body(broken, settings);
    REQUIRE_FALSE(body.ok());
    CHECK(body.error().kind == ErrorKind::permanent);
  }
}

TEST_CASE("parse_portal_settings reads the section and names the key of any problem",
          "[adapters][portal]") {
  const std::string path = "channels.portal";
  const json base = {{"url", "https://portal.example.gov.cn/gateway"},
                     {"hmac_key", "k"},
                     {"app_id", "herald"},
                     {"org_code", kOrgCode}};

  SECTION("a minimal section gets the defaults") {
    auto s = herald::parse_portal_settings(base, path);
    REQUIRE(s.ok());
    CHECK(s->hmac_key == "k");
    CHECK(s->column == "default");
    CHECK(s->field_map == herald::portal_default_field_map());
    CHECK(s->status_poll_attempts == 5);
    CHECK(s->status_poll_interval == 500ms);
    CHECK(s->timeout == 10000ms);
    CHECK(s->connect_timeout == 3000ms);
  }

  SECTION("every key set, the key from a file") {
    const std::string dir = herald::test::make_temp_dir("portal-key");
    std::ofstream(dir + "/key") << "from-file\n";
    json section = base;
    section.erase("hmac_key");
    section["hmac_key_file"] = dir + "/key";
    section["column"] = "tzgg";
    section["field_map"] = {{"body", "content"}, {"link", ""}};
    section["status_poll"] = {{"attempts", 3}, {"interval_ms", 250}};
    section["timeout_ms"] = 2000;
    section["connect_timeout_ms"] = 300;
    auto s = herald::parse_portal_settings(section, path);
    std::filesystem::remove_all(dir);
    REQUIRE(s.ok());
    CHECK(s->hmac_key == "from-file");
    CHECK(s->column == "tzgg");
    CHECK(s->field_map.at("body") == "content");
    CHECK(s->field_map.at("link").empty());
    CHECK(s->field_map.at("title") == "title");
    CHECK(s->status_poll_attempts == 3);
    CHECK(s->status_poll_interval == 250ms);
    CHECK(s->timeout == 2000ms);
    CHECK(s->connect_timeout == 300ms);
  }

  SECTION("problems") {
    const herald::test::SectionVariants v{base};
    const std::vector<herald::test::SettingsProblem> cases = {
        {v.without("url"), "channels.portal.url", "required"},
        {v.with("url", "ftp://x/"), "channels.portal.url", "http"},
        {v.with("url", "https://x.example/?a=1"), "channels.portal.url", "query"},
        {v.without("hmac_key"), "channels.portal.hmac_key", "required"},
        {v.with("hmac_key_file", "/nonexistent"), "channels.portal.hmac_key", "not both"},
        {v.without("app_id"), "channels.portal.app_id", "required"},
        {v.with("app_id", "a b"), "channels.portal.app_id", "letters"},
        {v.with("org_code", "123"), "channels.portal.org_code", "18"},
        {v.with("field_map", {{"author", "zuozhe"}}), "channels.portal.field_map.author",
         "not a mapped"},
        {v.with("field_map", {{"title", 5}}), "channels.portal.field_map.title", "string"},
        {v.with("status_poll", {{"attempts", 0}}), "channels.portal.status_poll.attempts",
         "between"},
        {v.with("status_poll", {{"interval_ms", -1}}), "channels.portal.status_poll.interval_ms",
         "between"},
        {v.with("status_poll", {{"tries", 2}}), "channels.portal.status_poll.tries", "unknown key"},
        {v.with("timeout_ms", 0), "channels.portal.timeout_ms", "between"},
        {v.with("site", "x"), "channels.portal.site", "unknown key"},
    };
    herald::test::check_settings_problems(
        cases, [&](const json& section) { return herald::parse_portal_settings(section, path); },
        "\"k\"");
  }
}

TEST_CASE("the portal channel is registered and built from its section", "[adapters][portal]") {
  herald::ChannelRegistry registry;
  herald::register_builtin_channels(registry);
  REQUIRE(registry.has("portal"));
  herald::SystemClock clock;
  herald::ChannelDeps deps{clock};
  auto channel = registry.create("portal",
                                 json{{"url", "https://portal.example.gov.cn"},
                                      {"hmac_key", "k"},
                                      {"app_id", "herald"},
                                      {"org_code", kOrgCode}},
                                 "channels.portal", deps);
  REQUIRE(channel.ok());
  CHECK((*channel)->name() == "portal");
}

TEST_CASE("PortalChannel publishes to herald-sim and follows the review until published",
          "[adapters][portal][sim]") {
  auto sim = start_sim({"--portal-key", kKey});
  configure_sim(sim.url, {{"portal_publish_after_polls", 2}, {"portal_app_id", "herald-test"}});
  herald::SystemClock clock;
  PortalChannel channel(settings_for(sim.url), clock);
  const Delivery d = delivery_for("it-100");

  auto receipt = channel.publish(d);
  REQUIRE(receipt.ok());
  json records = portal_records(sim.url);
  REQUIRE(records.at("count") == 1);
  const json& seen = records.at("items").at(0);
  CHECK(receipt->remote_id == seen.at("id"));
  CHECK(seen.at("state") == "published");
  CHECK(seen.at("polls") == 2);
  CHECK(seen.at("withdrawn") == false);
  CHECK(seen.at("idempotency_key") == d.idempotency_key());
  CHECK(seen.at("headers").at("x-gov-appid") == "herald-test");
  CHECK(seen.at("headers").at("content-type") == "application/json; charset=utf-8");
  CHECK_THAT(seen.at("signature").get<std::string>(), Catch::StartsWith("v1="));
  CHECK(seen.at("body").at("doc_id") == "it-100");
  CHECK(seen.at("body").at("org_code") == kOrgCode);

  SECTION("a retry is answered as a replay: success, the same id, still one record") {
    auto again = channel.publish(delivery_for("it-100", 2));
    REQUIRE(again.ok());
    CHECK(again->remote_id == receipt->remote_id);
    records = portal_records(sim.url);
    CHECK(records.at("count") == 1);
    CHECK(records.at("duplicates") == 1);
  }

  SECTION("the same key with a changed item is a permanent conflict") {
    auto changed = channel.publish(delivery_for("it-100", 2, item_for("it-100", "改过的标题")));
    REQUIRE_FALSE(changed.ok());
    CHECK(changed.error().kind == ErrorKind::permanent);
    CHECK(changed.error().code == "idempotency_conflict");
    CHECK(portal_records(sim.url).at("count") == 1);
  }

  SECTION("withdraw: the submission is withdrawn, and withdrawing again is still success") {
    auto withdrawn = channel.recall(d, receipt->remote_id);
    REQUIRE(withdrawn.ok());
    records = portal_records(sim.url);
    CHECK(records.at("items").at(0).at("withdrawn") == true);
    auto again = channel.recall(d, receipt->remote_id);
    CHECK(again.ok());

    auto unknown = channel.recall(d, "s-999999");
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().kind == ErrorKind::permanent);
    CHECK(unknown.error().code == "submission_not_found");
  }

  SECTION("an app id the portal does not know is permanent (403)") {
    PortalSettings other = settings_for(sim.url);
    other.app_id = "someone-else";
    PortalChannel stranger(other, clock);
    auto refused = stranger.publish(delivery_for("it-101"));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().kind == ErrorKind::permanent);
    CHECK(refused.error().code == "org_not_authorized");
  }
}

TEST_CASE("PortalChannel classifies herald-sim's refusals and faults", "[adapters][portal][sim]") {
  auto sim = start_sim({"--portal-key", kKey});
  herald::SystemClock clock;

  SECTION("a wrong key is a permanent signature error and nothing is recorded") {
    PortalChannel wrong(settings_for(sim.url, "not-the-key"), clock);
    auto refused = wrong.publish(delivery_for("it-200"));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().kind == ErrorKind::permanent);
    CHECK(refused.error().code == "signature_invalid");
    CHECK_THAT(refused.error().message, Catch::Contains("hmac_key"));
    CHECK(portal_records(sim.url).at("count") == 0);
  }

  SECTION("a rejected submission is permanent with the portal's reason") {
    configure_sim(sim.url, {{"portal_reject_next", "含有未公开的人事信息"}});
    PortalChannel channel(settings_for(sim.url), clock);
    auto rejected = channel.publish(delivery_for("it-201"));
    REQUIRE_FALSE(rejected.ok());
    CHECK(rejected.error().kind == ErrorKind::permanent);
    CHECK(rejected.error().code == "portal_rejected");
    CHECK_THAT(rejected.error().message, Catch::Contains("含有未公开的人事信息"));
    CHECK(portal_records(sim.url).at("items").at(0).at("state") == "rejected");
  }

  SECTION("5xx is ambiguous; the retry then succeeds with one record") {
    set_faults(sim.url, "portal:fail_next=1");
    PortalChannel channel(settings_for(sim.url), clock);
    auto failed = channel.publish(delivery_for("it-202"));
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.error().kind == ErrorKind::ambiguous);
    CHECK(failed.error().code == "service_unavailable");
    CHECK(portal_records(sim.url).at("count") == 0);
    auto retried = channel.publish(delivery_for("it-202", 2));
    REQUIRE(retried.ok());
    CHECK(portal_records(sim.url).at("count") == 1);
  }

  SECTION("429 is deferred with the portal's Retry-After") {
    set_faults(sim.url, "portal:429=1.0,retry_after_s=7");
    PortalChannel channel(settings_for(sim.url), clock);
    auto limited = channel.publish(delivery_for("it-203"));
    REQUIRE_FALSE(limited.ok());
    CHECK(limited.error().kind == ErrorKind::deferred);
    CHECK(limited.error().retry_after == 7s);
  }

  SECTION("still pending after the polls is deferred; the retry follows up to published") {
    configure_sim(sim.url, {{"portal_publish_after_polls", 4}});
    PortalSettings settings = settings_for(sim.url);
    settings.status_poll_attempts = 2;
    PortalChannel channel(settings, clock);
    auto pending = channel.publish(delivery_for("it-204"));
    REQUIRE_FALSE(pending.ok());
    CHECK(pending.error().kind == ErrorKind::deferred);
    CHECK(pending.error().defer_reason == herald::DeferReason::processing);
    CHECK(pending.error().code == "portal_pending");
    json records = portal_records(sim.url);
    REQUIRE(records.at("count") == 1);
    CHECK(records.at("items").at(0).at("state") == "pending_review");

    auto retried = channel.publish(delivery_for("it-204", 2));
    REQUIRE(retried.ok());
    records = portal_records(sim.url);
    CHECK(records.at("count") == 1);
    CHECK(records.at("duplicates") == 1);
    CHECK(retried->remote_id == records.at("items").at(0).at("id"));
    CHECK(records.at("items").at(0).at("state") == "published");
  }

  SECTION("a portal that is not there is retryable") {
    PortalChannel channel(
        settings_for("http://127.0.0.1:" + std::to_string(herald::test::free_tcp_port())), clock);
    auto down = channel.publish(delivery_for("it-205"));
    REQUIRE_FALSE(down.ok());
    CHECK(down.error().kind == ErrorKind::retryable);
  }
}

TEST_CASE("PortalChannel looks a submission up by its Idempotency-Key after an ambiguous attempt",
          "[adapters][portal][sim]") {
  auto sim = start_sim({"--portal-key", kKey});
  configure_sim(sim.url, {{"portal_app_id", "herald-test"}});
  herald::SystemClock clock;
  PortalSettings settings = settings_for(sim.url);
  settings.timeout = 300ms;
  PortalChannel channel(settings, clock);

  SECTION("late: stored, answered after our timeout → found by the key, not sent again") {
    set_faults(sim.url, "portal:late=1.0,stall_ms=1500");
    auto first = channel.publish(delivery_for("it-300"));
    REQUIRE_FALSE(first.ok());
    CHECK(first.error().kind == ErrorKind::ambiguous);
    set_faults(sim.url, "");
    Delivery again = delivery_for("it-300", 2);
    again.maybe_sent = true;
    auto found = channel.publish(again);
    REQUIRE(found.ok());
    const json records = portal_records(sim.url);
    CHECK(records.at("count") == 1);
    CHECK(records.at("duplicates") == 0);  // looked up, not re-sent
    CHECK(found->remote_id == records.at("items").at(0).at("id"));
  }

  SECTION("drop: never stored → absent, submitted once") {
    set_faults(sim.url, "portal:drop=1.0,stall_ms=1500");
    auto first = channel.publish(delivery_for("it-301"));
    REQUIRE_FALSE(first.ok());
    CHECK(first.error().kind == ErrorKind::ambiguous);
    set_faults(sim.url, "");
    Delivery again = delivery_for("it-301", 2);
    again.maybe_sent = true;
    auto sent = channel.publish(again);
    REQUIRE(sent.ok());
    const json records = portal_records(sim.url);
    CHECK(records.at("count") == 1);
    CHECK(sent->remote_id == records.at("items").at(0).at("id"));
  }
}

TEST_CASE("a drill's title, summary and body start with 【演练】", "[adapters][portal]") {
  PortalSettings settings = settings_for("https://portal.example.gov.cn");
  json item = item_for("it-1");
  item["status"] = "exercise";
  auto body = herald::portal_submission_body(delivery_for("it-1", 1, item), settings);
  REQUIRE(body.ok());
  const json parsed = json::parse(*body);
  CHECK(parsed.at("title") == "【演练】关于开展安全检查的通知");
  CHECK(parsed.at("summary") == "【演练】摘要");
  CHECK(parsed.at("content_html") == "<p>【演练】第一段 &lt;b&gt;</p><p>第二段 &amp; more</p>");
}
