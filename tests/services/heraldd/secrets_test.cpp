// The secrets sweep: one run through the real processes (heraldd against herald-sim and a Redis
// that requires a password from an ACL user), with submissions, approvals, publishing on every
// channel, a WeChat token refresh and a few platform errors; then every line heraldd, herald-sim
// and redis-server wrote and every answer the test received is searched for every configured
// secret and every token herald-sim issued. None may appear.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/digest.h"
#include "tests/support/herald_processes.h"
#include "tests/support/process.h"
#include "tests/support/redis_server.h"

using namespace herald::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Distinct, long and unlikely to appear by chance in any text, so a hit is a leak.
std::string secret(const std::string& what) {
  return what + "-" + herald::sha256_hex(what + std::to_string(::getpid())).substr(0, 24);
}

struct Secrets {
  std::string weibo_token = secret("weibo-access-token");
  std::string wechat_secret = secret("wechat-appsecret");
  std::string portal_key = secret("portal-hmac-key");
  std::string webhook_secret = secret("webhook-secret");
  std::string smtp_password = secret("smtp-password");
  std::string redis_password = secret("redis-password");
};

// Everything the test received or the processes wrote, with where it came from.
struct Seen {
  std::vector<std::pair<std::string, std::string>> texts;

  const herald::HttpResponse& keep(const std::string& what, const herald::HttpResponse& r) {
    std::string headers;
    for (const auto& [name, value] : r.headers) headers += name + ": " + value + "\n";
    texts.emplace_back(what, headers + r.body);
    return r;
  }
  herald::HttpResponse get(const std::string& what, const std::string& url,
                           const std::string& token) {
    return keep("GET " + what, http("GET", url, token));
  }
};

std::string write_private(const std::string& path, const std::string& content) {
  std::ofstream(path) << content << "\n";
  ::chmod(path.c_str(), 0600);
  return path;
}

json sweep_config(const Secrets& s, const std::string& dir, const std::string& redis_url,
                  const std::string& sim_url, int smtp_port) {
  json config = test_config(unique_key_prefix("secrets"), sim_url);
  config["redis"] = {{"url", redis_url},
                     {"username", "herald"},
                     {"password_file", write_private(dir + "/redis.pw", s.redis_password)}};
  config["queue"]["max_attempts"] = 3;
  config["channels"]["webhook"]["secret"] = s.webhook_secret;
  config["channels"]["weibo"] = {
      {"api_base", sim_url},
      {"access_token_file", write_private(dir + "/weibo.token", s.weibo_token)},
      {"safe_domain", "www.scfao.gov.cn"},
      {"rip", "127.0.0.1"}};
  config["channels"]["wechat"] = {
      {"api_base", sim_url},
      {"appid", "wx5e1a1d0000000001"},
      {"secret_file", write_private(dir + "/wechat.secret", s.wechat_secret)},
      {"mode", "auto"},
      {"publish", {{"poll_ms", {200, 500}}}}};
  config["channels"]["portal"] = {
      {"url", sim_url},
      {"hmac_key_file", write_private(dir + "/portal.key", s.portal_key)},
      {"app_id", "herald-secrets"},
      {"org_code", "11510000MB0000000X"},
      {"column", "zwdt"}};
  // herald-sim's sink offers no STARTTLS, so with credentials (which require STARTTLS) every
  // e-mail fails before AUTH: the media channel's deliveries are this run's permanent errors,
  // and their messages are searched like the rest.
  config["channels"]["media"] = {
      {"public_base_url", "https://www.example.gov.cn"},
      {"author", "XX省人民政府外事办公室"},
      {"feeds", {{{"name", "news"}, {"title", "新闻"}}}},
      {"smtp",
       {{"url", "smtp://127.0.0.1:" + std::to_string(smtp_port)},
        {"starttls", true},
        {"username", "herald"},
        {"password_file", write_private(dir + "/smtp.pw", s.smtp_password)},
        {"from", "herald@example.gov.cn"},
        {"to", {"newsdesk@media.example"}}}},
      {"webhooks", {{{"url", sim_url + "/hooks/media-desk"}, {"secret", s.webhook_secret}}}}};
  return config;
}

bool settled(const json& item) {
  if (!item.contains("deliveries") || item.at("deliveries").empty()) return false;
  for (const auto& d : item.at("deliveries")) {
    const std::string state = d.value("state", "");
    if (state != "published" && state != "dead") return false;
  }
  return true;
}

}  // namespace

TEST_CASE("no secret or token appears in any log line or answer of a full run",
          "[heraldd][secrets]") {
  const Secrets s;
  const std::string dir = make_temp_dir("secrets");
  OwnRedisServer redis(RedisAuth{"herald", s.redis_password});
  SimHandle sim = start_sim_with_smtp({"--portal-key", s.portal_key});
  Seen seen;
  auto sim_config = [&](const json& settings) {
    auto r = http("POST", sim.url + "/_sim/config", "", settings.dump(),
                  {{"Content-Type", "application/json"}});
    REQUIRE(r.status == 200);
  };
  sim_config({{"weibo_token", s.weibo_token},
              {"wechat_secret", s.wechat_secret},
              {"webhook_secret", s.webhook_secret}});
  // A retry each on the portal and the webhook (503 before anything is recorded).
  REQUIRE(
      http("POST", sim.url + "/_sim/faults", "", "portal:fail_next=1;webhook:fail_next=1").status ==
      200);

  HeralddHandle daemon =
      start_heraldd(sweep_config(s, dir, redis.url(), sim.url, sim.smtp_port), dir);
  const std::string api = daemon.url;
  const std::vector<std::pair<std::string, std::string>> json_type = {
      {"Content-Type", "application/json"}};

  auto submit_and_approve = [&](json item) {
    auto created = seen.keep("POST /v1/items",
                             http("POST", api + "/v1/items", kDutyToken, item.dump(), json_type));
    INFO(created.body);
    REQUIRE(created.status == 201);
    const std::string id = json_of(created).at("id");
    for (const char* token : {kReviewerToken, kReviewer2Token}) {
      const json body = {{"decision", "approve"}, {"comment", "ok"}};
      auto approved = seen.keep(
          "POST approvals",
          http("POST", api + "/v1/items/" + id + "/approvals", token, body.dump(), json_type));
      REQUIRE(approved.status == 201);
    }
    json settled_item;
    const bool done = wait_until(
        [&] {
          settled_item = json_of(http("GET", api + "/v1/items/" + id, kDutyToken));
          return settled(settled_item);
        },
        60s, 100ms);
    INFO(settled_item.dump(2));
    INFO(read_file(daemon.log_path));
    REQUIRE(done);
    return id;
  };

  // 1. An alert on every channel (first WeChat token; a retry on the portal and the webhook).
  json alert = sample_alert();
  alert["channels"] = {"weibo", "wechat", "portal", "media", "webhook"};
  const std::string first = submit_and_approve(alert);

  // 2. The WeChat tokens expire (a refresh), Weibo refuses once with an expired token (a dead
  //    letter), and a publication goes out.
  sim_config({{"wechat_expire_tokens", true}, {"weibo_next_errors", {21327}}});
  json publication = {{"kind", "publication"},
                      {"category", "work_news"},
                      {"title", "工作动态：召开安全工作会议"},
                      {"summary", "今日召开会议。"},
                      {"body", "今日召开会议，部署安全工作。"},
                      {"link", "https://www.scfao.gov.cn/items/secrets-2"},
                      {"channels", {"weibo", "wechat", "portal", "webhook"}}};
  const std::string second = submit_and_approve(publication);

  // Refusals answered to the client: a bad token, an unknown item, a self-approval.
  seen.keep("GET with a bad token", http("GET", api + "/v1/items", "not-a-token"));
  seen.keep("GET an unknown item", http("GET", api + "/v1/items/nope", kDutyToken));
  seen.keep("self-approval", http("POST", api + "/v1/items/" + second + "/approvals", kDutyToken,
                                  json{{"decision", "approve"}}.dump(), json_type));

  // What the run did, by the platforms' truth: both items, a refresh, the errors.
  const json wechat = sim_published(sim.url, "wechat");
  std::vector<std::string> issued = wechat.at("issued_tokens").get<std::vector<std::string>>();
  CHECK(issued.size() >= 2);
  CHECK(wechat.at("count") == 2);
  const json first_item = json_of(seen.get("item", api + "/v1/items/" + first, kDutyToken));
  const json second_item = json_of(seen.get("item", api + "/v1/items/" + second, kDutyToken));
  std::map<std::string, std::string> states;
  for (const json* item : {&first_item, &second_item}) {
    for (const auto& d : item->at("deliveries")) {
      states[item->at("id").get<std::string>() + "/" + d.value("channel", "")] =
          d.value("state", "");
    }
  }
  INFO(first_item.dump(2) << second_item.dump(2));
  CHECK(states[first + "/weibo"] == "published");
  CHECK(states[first + "/wechat"] == "published");
  CHECK(states[first + "/portal"] == "published");
  CHECK(states[first + "/webhook"] == "published");
  CHECK(states[first + "/media"] == "dead");  // the e-mail: STARTTLS required, not offered
  CHECK(states[second + "/weibo"] == "dead");
  CHECK(states[second + "/wechat"] == "published");

  // Every answer a client can get.
  for (const char* token : {kDutyToken, kAdminToken}) {
    seen.get("items", api + "/v1/items", token);
    seen.get("audit", api + "/v1/items/" + first + "/audit", token);
    seen.get("audit", api + "/v1/items/" + second + "/audit", token);
  }
  seen.get("dead letters", api + "/v1/deliveries/dead", kAdminToken);
  seen.get("stats", api + "/v1/stats?from=2000-01-01&to=2100-12-31&group_by=channel,kind",
           kAdminToken);
  seen.get("reconcile", api + "/v1/stats/reconcile?against=ledger", kAdminToken);
  seen.get("metrics", api + "/metrics", kAdminToken);
  seen.get("readyz", api + "/readyz", "");
  seen.get("feed", api + "/feeds/news.rss", "");
  seen.get("cap", api + "/feeds/alerts.cap.atom", "");
  const json dead = json_of(http("GET", api + "/v1/deliveries/dead", kAdminToken));
  CHECK(dead.dump().find("STARTTLS") != std::string::npos);
  CHECK(dead.dump().find("21327") != std::string::npos);

  // Stop heraldd (its shutdown lines count too), then read every log.
  daemon.process.signal(SIGTERM);
  CHECK(daemon.process.wait(30s).has_value());
  seen.texts.emplace_back("heraldd log", read_file(daemon.log_path));
  seen.texts.emplace_back("herald-sim log", read_file(sim.log_path));
  seen.texts.emplace_back("redis-server log", read_file(redis.log_path()));
  CHECK(seen.texts.size() > 20);

  std::vector<std::pair<std::string, std::string>> forbidden = {
      {"Weibo access_token", s.weibo_token},
      {"WeChat appsecret", s.wechat_secret},
      {"portal HMAC key", s.portal_key},
      {"webhook secret", s.webhook_secret},
      {"SMTP password", s.smtp_password},
      {"Redis password", s.redis_password},
      {"duty officer's API token", kDutyToken},
      {"reviewer's API token", kReviewerToken},
      {"second reviewer's API token", kReviewer2Token},
      {"admin's API token", kAdminToken},
  };
  for (const auto& token : issued) forbidden.emplace_back("a WeChat access_token", token);
  // Any 24 characters of an issued token: an excerpt is a leak too.
  for (const auto& token : issued) {
    forbidden.emplace_back("an excerpt of a WeChat access_token", token.substr(token.size() - 24));
  }
  for (const auto& [what, text] : seen.texts) {
    for (const auto& [name, value] : forbidden) {
      INFO(what << " holds the " << name);
      CHECK(text.find(value) == std::string::npos);
    }
  }
}

TEST_CASE(
    "heraldd given a wrong Redis password stops with exit code 1 and says so, not what it was",
    "[heraldd][secrets]") {
  const std::string dir = make_temp_dir("secrets-wrong-pw");
  OwnRedisServer redis(RedisAuth{"", secret("right-redis-password")});
  const std::string wrong = secret("wrong-redis-password");
  json config = test_config(unique_key_prefix("secrets-wrong"), "http://127.0.0.1:1");
  config["redis"] = {{"url", redis.url()},
                     {"password_file", write_private(dir + "/redis.pw", wrong)}};
  const std::string config_path = dir + "/heraldd.json";
  std::ofstream(config_path) << config.dump(2);
  const std::string log_path = dir + "/heraldd.log";
  ChildProcess daemon = ChildProcess::spawn({HERALDD_PATH, "--config", config_path}, {}, log_path);
  const auto code = daemon.wait(30s);
  const std::string log = read_file(log_path);
  INFO(log);
  REQUIRE(code.has_value());
  CHECK(*code == 1);
  CHECK(log.find("refused the password") != std::string::npos);
  CHECK(log.find(wrong) == std::string::npos);
  CHECK(log.find(secret("right-redis-password")) == std::string::npos);
}
