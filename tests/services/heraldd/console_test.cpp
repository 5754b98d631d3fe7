// The web console's front door on a real heraldd (real redis-server and herald-sim): static files
// with their security and caching headers, sign-in to a session cookie, the CSRF token on every
// change made with that cookie, sign-out, and sessions shared by two heraldd on one Redis.
#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "services/heraldd/console_routes.h"
#include "tests/support/herald_processes.h"
#include "tests/support/redis_server.h"

using namespace herald;
using namespace herald::test;
using nlohmann::json;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Fixture {
  std::string prefix = unique_key_prefix("console");
  std::string dir = make_temp_dir("console");
  SimHandle sim = start_sim();
  HeralddHandle daemon = start_heraldd(test_config(prefix, sim.url), dir);

  // Signs in with `token`; the session cookie ("herald_session=…") and the CSRF token.
  std::pair<std::string, std::string> sign_in(const std::string& token) {
    auto r = http("POST", daemon.url + "/console/session", "", json{{"token", token}}.dump(),
                  {{"Content-Type", "application/json"}});
    INFO(r.body);
    REQUIRE(r.status == 200);
    const std::string set_cookie = r.header("set-cookie");
    REQUIRE(set_cookie.rfind("herald_session=", 0) == 0);
    return {set_cookie.substr(0, set_cookie.find(';')), json_of(r).at("csrf_token")};
  }
};

}  // namespace

TEST_CASE("console cookie_value finds one cookie among several") {
  CHECK(cookie_value("a=1; herald_session=abc; b=2", "herald_session") == "abc");
  CHECK(cookie_value("herald_session_x=1; herald_session=z", "herald_session") == "z");
  CHECK(cookie_value("a=1", "herald_session").empty());
  CHECK(cookie_value("", "herald_session").empty());
}

TEST_CASE("console static files carry security and caching headers", "[console]") {
  Fixture f;
  auto page = http("GET", f.daemon.url + "/console/sign-in.html");
  REQUIRE(page.status == 200);
  CHECK(page.header("content-type").rfind("text/html", 0) == 0);
  const std::string csp = page.header("content-security-policy");
  CHECK(csp.find("default-src 'self'") != std::string::npos);
  CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
  CHECK(csp.find("unsafe-inline") == std::string::npos);
  CHECK(page.header("x-content-type-options") == "nosniff");
  CHECK(page.header("referrer-policy") == "no-referrer");
  CHECK(page.header("cache-control").find("no-cache") != std::string::npos);
  const std::string etag = page.header("etag");
  REQUIRE(etag.size() > 2);
  // No inline script or style in the page itself: the CSP would block it.
  CHECK(page.body.find("<script>") == std::string::npos);
  CHECK(page.body.find("style=") == std::string::npos);

  auto again =
      http("GET", f.daemon.url + "/console/sign-in.html", "", "", {{"If-None-Match", etag}});
  CHECK(again.status == 304);
  CHECK(again.body.empty());

  auto script = http("GET", f.daemon.url + "/console/js/api.js");
  CHECK(script.status == 200);
  CHECK(script.header("content-type").rfind("text/javascript", 0) == 0);
  CHECK(http("GET", f.daemon.url + "/console/no-such.html").status == 404);
  auto bare = http("GET", f.daemon.url + "/console");
  CHECK(bare.status == 308);
  CHECK(bare.header("location") == "/console/");
  CHECK(http("GET", f.daemon.url + "/console/../config.json").status == 404);
}

TEST_CASE("console pages send a browser without a session to the sign-in page", "[console]") {
  Fixture f;
  auto browser =
      http("GET", f.daemon.url + "/console/index.html", "", "", {{"Accept", "text/html"}});
  CHECK(browser.status == 303);
  CHECK(browser.header("location") == "/console/sign-in.html");
  // A script (no text/html in Accept) gets the API's JSON error instead.
  auto script = http("GET", f.daemon.url + "/console/index.html");
  CHECK(script.status == 401);
  CHECK(json_of(script)["error"]["code"] == "unauthorized");

  auto [cookie, csrf] = f.sign_in(kDutyToken);
  auto page = http("GET", f.daemon.url + "/console/index.html", "", "",
                   {{"Accept", "text/html"}, {"Cookie", cookie}});
  CHECK(page.status == 200);
}

TEST_CASE("console sign-in sets a strict cookie and refuses unknown tokens", "[console]") {
  Fixture f;
  auto bad = http("POST", f.daemon.url + "/console/session", "",
                  json{{"token", "not-a-token"}}.dump(), {{"Content-Type", "application/json"}});
  CHECK(bad.status == 401);
  CHECK(bad.header("set-cookie").empty());
  auto form = http("POST", f.daemon.url + "/console/session", "", "token=duty-token",
                   {{"Content-Type", "application/x-www-form-urlencoded"}});
  CHECK(form.status == 415);

  auto r = http("POST", f.daemon.url + "/console/session", "", json{{"token", kDutyToken}}.dump(),
                {{"Content-Type", "application/json"}});
  REQUIRE(r.status == 200);
  const std::string cookie = r.header("set-cookie");
  CHECK(cookie.find("HttpOnly") != std::string::npos);
  CHECK(cookie.find("SameSite=Strict") != std::string::npos);
  CHECK(cookie.find("Max-Age=28800") != std::string::npos);
  CHECK(cookie.find("Secure") == std::string::npos);  // plain HTTP here
  CHECK(json_of(r)["user"] == "duty");
  CHECK(json_of(r)["roles"].size() == 2);

  auto behind_tls =
      http("POST", f.daemon.url + "/console/session", "", json{{"token", kDutyToken}}.dump(),
           {{"Content-Type", "application/json"}, {"X-Forwarded-Proto", "https"}});
  CHECK(behind_tls.header("set-cookie").find("; Secure") != std::string::npos);
}

TEST_CASE("console session changes need the session's CSRF token, bearer tokens do not",
          "[console]") {
  Fixture f;
  auto [cookie, csrf] = f.sign_in(kDutyToken);
  const std::string body = sample_alert().dump();

  auto read = http("GET", f.daemon.url + "/v1/items", "", "", {{"Cookie", cookie}});
  CHECK(read.status == 200);

  auto missing = http("POST", f.daemon.url + "/v1/items", "", body,
                      {{"Content-Type", "application/json"}, {"Cookie", cookie}});
  CHECK(missing.status == 403);
  CHECK(json_of(missing)["error"]["code"] == "csrf_failed");
  auto wrong = http("POST", f.daemon.url + "/v1/items", "", body,
                    {{"Content-Type", "application/json"},
                     {"Cookie", cookie},
                     {"X-CSRF-Token", std::string(64, 'a')}});
  CHECK(wrong.status == 403);
  // Another session's token is not this session's.
  auto [other_cookie, other_csrf] = f.sign_in(kDutyToken);
  auto crossed = http(
      "POST", f.daemon.url + "/v1/items", "", body,
      {{"Content-Type", "application/json"}, {"Cookie", cookie}, {"X-CSRF-Token", other_csrf}});
  CHECK(crossed.status == 403);

  auto made =
      http("POST", f.daemon.url + "/v1/items", "", body,
           {{"Content-Type", "application/json"}, {"Cookie", cookie}, {"X-CSRF-Token", csrf}});
  INFO(made.body);
  CHECK(made.status == 201);
  // The session's user is the author, so the author's own-approval rule applies as with a token.
  const std::string id = json_of(made).at("id");
  CHECK(json_of(http("GET", f.daemon.url + "/v1/items/" + id, kAdminToken))["author"] == "duty");

  auto bearer = http("POST", f.daemon.url + "/v1/items", kDutyToken, body,
                     {{"Content-Type", "application/json"}});
  CHECK(bearer.status == 201);
}

TEST_CASE("console sign-out ends the session, and sessions are shared through Redis", "[console]") {
  Fixture f;
  auto [cookie, csrf] = f.sign_in(kReviewerToken);
  HeralddHandle second =
      start_heraldd(test_config(f.prefix, f.sim.url), make_temp_dir("console-2"), "second");
  auto elsewhere = http("GET", second.url + "/console/session", "", "", {{"Cookie", cookie}});
  CHECK(elsewhere.status == 200);
  CHECK(json_of(elsewhere)["user"] == "rev");

  auto no_csrf = http("DELETE", f.daemon.url + "/console/session", "", "", {{"Cookie", cookie}});
  CHECK(no_csrf.status == 403);
  auto out = http("DELETE", f.daemon.url + "/console/session", "", "",
                  {{"Cookie", cookie}, {"X-CSRF-Token", csrf}});
  CHECK(out.status == 204);
  CHECK(out.header("set-cookie").find("Max-Age=0") != std::string::npos);
  CHECK(http("GET", second.url + "/console/session", "", "", {{"Cookie", cookie}}).status == 401);
  CHECK(http("GET", f.daemon.url + "/v1/items", "", "", {{"Cookie", cookie}}).status == 401);
}

TEST_CASE("items:preview renders every channel and the gate's findings, storing nothing",
          "[console]") {
  const std::string prefix = unique_key_prefix("console-preview");
  const std::string dir = make_temp_dir("console-preview");
  SimHandle sim = start_sim({"--portal-key", "preview-portal-key"});
  std::ofstream(dir + "/blocked-words.txt") << "机密\n";
  json config = test_config(prefix, sim.url);
  config["gate"]["blocked_words_file"] = dir + "/blocked-words.txt";
  config["channels"]["weibo"] = {{"api_base", sim.url},
                                 {"access_token", "weibo-sim-token"},
                                 {"safe_domain", "www.scfao.gov.cn"},
                                 {"rip", "127.0.0.1"}};
  config["channels"]["wechat"] = {{"api_base", sim.url},
                                  {"appid", "wx5e1a1d0000000001"},
                                  {"secret", "wechat-sim-secret"},
                                  {"mode", "auto"}};
  config["channels"]["portal"] = {{"url", sim.url},
                                  {"hmac_key", "preview-portal-key"},
                                  {"app_id", "herald-preview"},
                                  {"org_code", "11510000MB0000000X"},
                                  {"column", "zwdt"}};
  config["channels"]["media"] = {{"public_base_url", "https://www.example.gov.cn"},
                                 {"author", "XX省人民政府外事办公室"},
                                 {"feeds", {{{"name", "news"}, {"title", "新闻"}}}}};
  HeralddHandle daemon = start_heraldd(config, dir);
  const Headers headers = {{"Content-Type", "application/json"}};

  json alert = sample_alert();
  alert["channels"] = {"weibo", "wechat", "portal", "media", "webhook"};
  alert["body"] = "<script>x</script>请勿转发机密文件。";
  auto r = http("POST", daemon.url + "/v1/items:preview", kDutyToken, alert.dump(), headers);
  INFO(r.body);
  REQUIRE(r.status == 200);
  const json preview = json_of(r);
  CHECK(preview["allowed"] == false);
  REQUIRE(preview["findings"].size() == 1);
  CHECK(preview["findings"][0]["word"] == "机密");
  CHECK(preview["findings"][0]["field"] == "body");
  CHECK(preview["findings"][0]["position"] == 22);  // code points before 机密
  const json& channels = preview["channels"];
  CHECK(channels["weibo"]["text"].get<std::string>().rfind("【海外安全提醒】", 0) == 0);
  CHECK(channels["weibo"]["length"].get<int>() <= channels["weibo"]["limit"].get<int>());
  // WeChat's article is HTML: the text is escaped there, not passed through.
  CHECK(channels["wechat"]["content_html"].get<std::string>().find("<script>") ==
        std::string::npos);
  CHECK(channels["portal"]["text"].get<std::string>().find("\"org_code\"") != std::string::npos);
  CHECK(channels["media"]["text"].get<std::string>().find("<alert") != std::string::npos);
  CHECK(channels["webhook"]["text"].get<std::string>().find("泰国") != std::string::npos);

  // Nothing was stored, and the same body is what POST /v1/items refuses.
  CHECK(json_of(http("GET", daemon.url + "/v1/items", kAdminToken))["items"].empty());
  CHECK(http("POST", daemon.url + "/v1/items", kDutyToken, alert.dump(), headers).status == 422);

  json invalid = sample_alert();
  invalid["alert"]["areas"] = json::array({{{"country", "thailand"}, {"desc", "泰国"}}});
  auto refused =
      http("POST", daemon.url + "/v1/items:preview", kDutyToken, invalid.dump(), headers);
  CHECK(refused.status == 422);
  CHECK(json_of(refused)["error"]["field"] == "alert.areas[0].country");
  CHECK(http("POST", daemon.url + "/v1/items:preview", kReviewerToken, alert.dump(), headers)
            .status == 403);
}
