// herald-sim's Weibo as a process, spoken to with raw form posts (no Herald adapter code), checked
// against channel-apis.md §1 and §5A: paths, form parameters (rip required), the status JSON, the
// error format and codes, the posting limits, consecutive repeated text, destroy, the user
// timeline, rate_limit_status, and faults (quota, late, drop) in Weibo's own format.
#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "adapters/http_client.h"
#include "tests/support/herald_processes.h"

using herald::test::http;
using herald::test::json_of;
using herald::test::sim_published;
using herald::test::start_sim;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kToken = "weibo-sim-token";  // the sim's default valid token
constexpr const char* kForm = "application/x-www-form-urlencoded";

// Percent-encodes by hand here, on purpose: the test must not borrow the adapter's encoder.
std::string enc(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

herald::HttpResponse post(const std::string& url, const std::string& path,
                          const std::string& body) {
  return http("POST", url + path, "", body, {{"Content-Type", kForm}});
}

herald::HttpResponse share(const std::string& url, const std::string& status,
                           const std::string& token = kToken) {
  return post(url, "/2/statuses/share.json",
              "access_token=" + enc(token) + "&status=" + enc(status) + "&rip=10.1.2.3");
}

void require_weibo_error(const herald::HttpResponse& response, int status, int code,
                         const std::string& request) {
  INFO(response.body);
  CHECK(response.status == status);
  const json body = json_of(response);
  CHECK(body.at("error_code") == code);
  CHECK(body.at("error").is_string());
  CHECK(body.at("request") == request);
}

void configure(const std::string& url, const json& config) {
  auto response =
      http("POST", url + "/_sim/config", "", config.dump(), {{"Content-Type", "application/json"}});
  INFO(response.body);
  REQUIRE(response.status == 200);
}

std::string repeat(const std::string& unit, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += unit;
  return out;
}

}  // namespace

TEST_CASE("herald-sim's Weibo accepts a share and answers Weibo's status JSON",
          "[herald_sim][weibo]") {
  auto sim = start_sim();
  const std::string status = "外交部提醒 https://safe.example.gov.cn/a/123";
  auto response = share(sim.url, status);
  INFO(response.body);
  REQUIRE(response.status == 200);
  const json body = json_of(response);
  REQUIRE(body.at("idstr").is_string());
  CHECK(body.at("id").is_number_unsigned());
  CHECK(std::to_string(body.at("id").get<std::uint64_t>()) == body.at("idstr"));
  CHECK(body.at("mid") == body.at("idstr"));
  CHECK(body.at("text") == status);
  CHECK(body.at("created_at").get<std::string>().find("+0800") != std::string::npos);
  CHECK(body.at("user").is_object());

  const json published = sim_published(sim.url, "weibo");
  CHECK(published.at("platform") == "weibo");
  REQUIRE(published.at("count") == 1);
  const json& item = published.at("items")[0];
  CHECK(item.at("id") == body.at("idstr"));
  CHECK(item.at("text") == status);
  CHECK(item.at("fields").at("status") == status);
  CHECK(item.at("fields").at("rip") == "10.1.2.3");
  CHECK_FALSE(item.at("fields").contains("access_token"));
  CHECK(item.at("deleted") == false);
  CHECK(item.at("received_at").is_string());

  SECTION("the token may come in an Authorization: OAuth2 header") {
    auto with_header =
        http("POST", sim.url + "/2/statuses/share.json", "",
             "status=" + enc("second https://x.gov.cn/") + "&rip=10.1.2.3",
             {{"Content-Type", kForm}, {"Authorization", std::string("OAuth2 ") + kToken}});
    CHECK(with_header.status == 200);
  }

  SECTION("the same text right after is 20019") {
    require_weibo_error(share(sim.url, status), 400, 20019, "/2/statuses/share.json");
    CHECK(sim_published(sim.url, "weibo").at("count") == 1);
  }

  SECTION("the same text with another post in between is a new post (only consecutive repeats)") {
    REQUIRE(share(sim.url, "另一条 https://safe.example.gov.cn/b").status == 200);
    auto again = share(sim.url, status);
    INFO(again.body);
    REQUIRE(again.status == 200);
    CHECK(json_of(again).at("idstr") != body.at("idstr"));
    CHECK(sim_published(sim.url, "weibo").at("count") == 3);
  }

  SECTION("destroy marks it deleted; destroying it again is 20101") {
    const std::string id = body.at("idstr");
    auto destroyed = post(sim.url, "/2/statuses/destroy.json",
                          "access_token=" + std::string(kToken) + "&id=" + id);
    INFO(destroyed.body);
    REQUIRE(destroyed.status == 200);
    CHECK(json_of(destroyed).at("idstr") == id);
    const json after = sim_published(sim.url, "weibo");
    CHECK(after.at("deleted") == 1);
    CHECK(after.at("items")[0].at("deleted") == true);
    CHECK(after.at("items")[0].at("deleted_at").is_string());
    require_weibo_error(post(sim.url, "/2/statuses/destroy.json",
                             "access_token=" + std::string(kToken) + "&id=" + id),
                        400, 20101, "/2/statuses/destroy.json");
    // Once deleted, the same text may be posted again.
    CHECK(share(sim.url, status).status == 200);
  }

  SECTION("reset forgets the posts") {
    REQUIRE(http("POST", sim.url + "/_sim/reset").status == 200);
    const json after = sim_published(sim.url, "weibo");
    CHECK(after.at("count") == 0);
    CHECK(after.at("requests") == 0);
  }
}

TEST_CASE("herald-sim's Weibo refuses what Weibo refuses, with Weibo's codes",
          "[herald_sim][weibo]") {
  auto sim = start_sim();
  const std::string share_path = "/2/statuses/share.json";
  const std::string link = " https://www.example.gov.cn/a";

  SECTION("tokens: missing 10006, unknown 21332, configurable") {
    require_weibo_error(post(sim.url, share_path, "status=" + enc("x" + link)), 400, 10006,
                        share_path);
    require_weibo_error(share(sim.url, "x" + link, "nope"), 400, 21332, share_path);
    configure(sim.url, {{"weibo_token", "new-token"}});
    require_weibo_error(share(sim.url, "x" + link), 400, 21332, share_path);
    CHECK(share(sim.url, "x" + link, "new-token").status == 200);
  }

  SECTION("paths and methods: update.json is closed (10014), unknown API 10020, GET 10021") {
    require_weibo_error(post(sim.url, "/2/statuses/update.json",
                             "access_token=" + std::string(kToken) + "&status=x"),
                        400, 10014, "/2/statuses/update.json");
    require_weibo_error(post(sim.url, "/2/nothing.json", ""), 400, 10020, "/2/nothing.json");
    require_weibo_error(http("GET", sim.url + share_path + "?access_token=" + kToken), 400, 10021,
                        share_path);
  }

  SECTION("rip is required: missing 10016 naming it, not an IP 10017") {
    auto missing = post(sim.url, share_path,
                        "access_token=" + std::string(kToken) + "&status=" + enc("x" + link));
    require_weibo_error(missing, 400, 10016, share_path);
    CHECK_THAT(json_of(missing).at("error").get<std::string>(),
               Catch::Contains("Miss required parameter (rip)"));
    require_weibo_error(
        post(sim.url, share_path,
             "access_token=" + std::string(kToken) + "&status=" + enc("x" + link) + "&rip=nobody"),
        400, 10017, share_path);
    CHECK(sim_published(sim.url, "weibo").at("count") == 0);
  }

  SECTION("content: missing status 10016, blank 20008, no link 10017") {
    require_weibo_error(post(sim.url, share_path, "access_token=" + std::string(kToken)), 400,
                        10016, share_path);
    require_weibo_error(share(sim.url, "   "), 400, 20008, share_path);
    auto no_link = share(sim.url, "没有链接的微博");
    require_weibo_error(no_link, 400, 10017, share_path);
    CHECK(json_of(no_link).at("error") == "text not find domain!");
  }

  SECTION("the safe domain, when set, must be the link's host or a parent of it") {
    configure(sim.url, {{"weibo_safe_domain", "example.gov.cn"}});
    require_weibo_error(share(sim.url, "a https://example.gov.cn.evil.com/x"), 400, 10017,
                        share_path);
    require_weibo_error(share(sim.url, "b https://other.cn/?www.example.gov.cn"), 400, 10017,
                        share_path);
    CHECK(share(sim.url, "c https://www.example.gov.cn/x").status == 200);
  }

  SECTION("140 code points are allowed, 141 are 20012") {
    const std::string url = "https://a.cn/";  // 13 code points
    const std::string ok = repeat("汉", 140 - 13 - 1) + " " + url;
    CHECK(share(sim.url, ok).status == 200);
    require_weibo_error(share(sim.url, repeat("字", 140 - 13) + " " + url), 400, 20012, share_path);
  }

  SECTION("the hourly posting limit answers 403 with 10024") {
    configure(sim.url, {{"weibo_hourly_limit", 2}});
    CHECK(share(sim.url, "1" + link).status == 200);
    CHECK(share(sim.url, "2" + link).status == 200);
    require_weibo_error(share(sim.url, "3" + link), 403, 10024, share_path);
    CHECK(sim_published(sim.url, "weibo").at("count") == 2);
    const json limits =
        json_of(http("GET", sim.url + "/2/account/rate_limit_status.json?access_token=" + kToken));
    CHECK(limits.at("api_rate_limits")[0].at("remaining_hits") == 0);
    CHECK(limits.at("reset_time_in_seconds").get<long>() > 0);
    CHECK(limits.at("reset_time_in_seconds").get<long>() <= 3600);
  }

  SECTION("the limit counts requests, refused ones too (\"每小时只能请求 30 次\")") {
    configure(sim.url, {{"weibo_hourly_limit", 2}});
    require_weibo_error(share(sim.url, "没有链接"), 400, 10017, share_path);
    CHECK(share(sim.url, "1" + link).status == 200);
    require_weibo_error(share(sim.url, "2" + link), 403, 10024, share_path);
  }

  SECTION("posting too often within a minute answers 20016 when weibo_minute_limit is set") {
    configure(sim.url, {{"weibo_minute_limit", 1}});
    CHECK(share(sim.url, "1" + link).status == 200);
    require_weibo_error(share(sim.url, "2" + link), 400, 20016, share_path);
    CHECK(sim_published(sim.url, "weibo").at("count") == 1);
  }

  SECTION("weibo_next_errors answers the chosen codes in turn; 20032 still records") {
    configure(sim.url, {{"weibo_next_errors", {10023, 20032}}});
    require_weibo_error(share(sim.url, "1" + link), 403, 10023, share_path);
    require_weibo_error(share(sim.url, "2" + link), 400, 20032, share_path);
    CHECK(share(sim.url, "3" + link).status == 200);
    CHECK(sim_published(sim.url, "weibo").at("count") == 2);
  }

  SECTION("bad settings are refused") {
    for (const json& bad : {json{{"weibo_hourly_limit", 0}}, json{{"weibo_next_errors", {"x"}}},
                            json{{"weibo_token", ""}}}) {
      CAPTURE(bad.dump());
      CHECK(http("POST", sim.url + "/_sim/config", "", bad.dump()).status == 400);
    }
  }
}

TEST_CASE("herald-sim's Weibo faults come in Weibo's error format", "[herald_sim][weibo]") {
  SECTION("5xx carries 10001 or 10002") {
    auto sim = start_sim({"--faults", "weibo:5xx=1.0"});
    auto response = share(sim.url, "x https://a.cn/");
    INFO(response.body);
    CHECK((response.status == 500 || response.status == 503));
    const int code = json_of(response).at("error_code");
    CHECK((code == 10001 || code == 10002));
    CHECK(sim_published(sim.url, "weibo").at("count") == 0);
  }

  SECTION("429 becomes Weibo's 403 with 10023") {
    auto sim = start_sim({"--faults", "weibo:429=1.0"});
    require_weibo_error(share(sim.url, "x https://a.cn/"), 403, 10023, "/2/statuses/share.json");
  }

  SECTION("quota draws 10023 (HTTP 403) or 20016 (HTTP 400) and records nothing") {
    auto sim = start_sim({"--seed", "7", "--faults", "weibo:quota=1"});
    std::set<int> codes;
    for (int i = 0; i < 16; ++i) {
      auto response = share(sim.url, std::to_string(i) + " https://a.cn/");
      const int code = json_of(response).at("error_code");
      CHECK(response.status == (code == 10023 ? 403 : 400));
      codes.insert(code);
    }
    CHECK(codes == std::set<int>{10023, 20016});
    CHECK(sim_published(sim.url, "weibo").at("count") == 0);
  }

  SECTION("late: the post is made, the answer comes after the client gave up") {
    auto sim = start_sim({"--faults", "weibo:late=1,stall_ms=3000"});
    herald::HttpClient client;
    auto result = client.send({"POST",
                               sim.url + "/2/statuses/share.json",
                               {{"Content-Type", kForm}},
                               "access_token=" + std::string(kToken) +
                                   "&status=" + enc("迟到 https://a.cn/") + "&rip=10.1.2.3",
                               500ms,
                               500ms});
    CHECK_FALSE(result.ok());
    const json published = sim_published(sim.url, "weibo");
    REQUIRE(published.at("count") == 1);
    CHECK(published.at("items")[0].at("text") == "迟到 https://a.cn/");
  }

  SECTION("drop: nothing is posted and no answer comes") {
    auto sim = start_sim({"--faults", "weibo:drop=1,stall_ms=100"});
    herald::HttpClient client;
    auto result = client.send({"POST",
                               sim.url + "/2/statuses/share.json",
                               {{"Content-Type", kForm}},
                               "access_token=" + std::string(kToken) +
                                   "&status=" + enc("丢失 https://a.cn/") + "&rip=10.1.2.3",
                               2000ms,
                               5000ms});
    CHECK_FALSE(result.ok());
    CHECK(sim_published(sim.url, "weibo").at("count") == 0);
  }
}

TEST_CASE("herald-sim's Weibo user_timeline reads back the token owner's live posts",
          "[herald_sim][weibo]") {
  auto sim = start_sim();
  const std::string timeline = "/2/statuses/user_timeline.json";
  auto read = [&](const std::string& query, const std::string& token = kToken) {
    return http("GET", sim.url + timeline + "?access_token=" + enc(token) + query);
  };
  std::vector<std::string> ids;
  for (int i = 1; i <= 5; ++i) {
    auto posted =
        share(sim.url, "第" + std::to_string(i) + "条 https://a.cn/?d=" + std::to_string(i));
    REQUIRE(posted.status == 200);
    ids.push_back(json_of(posted).at("idstr"));
  }
  // Another account's post and a deleted one do not show.
  configure(sim.url, {{"weibo_token", "other-token"}});
  REQUIRE(share(sim.url, "别人的 https://a.cn/", "other-token").status == 200);
  configure(sim.url, {{"weibo_token", kToken}});
  REQUIRE(post(sim.url, "/2/statuses/destroy.json",
               "access_token=" + std::string(kToken) + "&id=" + ids[1])
              .status == 200);

  SECTION("newest first, with Weibo's status fields; default page") {
    auto response = read("");
    INFO(response.body);
    REQUIRE(response.status == 200);
    const json body = json_of(response);
    CHECK(body.at("total_number") == 4);
    const json& statuses = body.at("statuses");
    REQUIRE(statuses.size() == 4);
    CHECK(statuses[0].at("idstr") == ids[4]);
    CHECK(statuses[1].at("idstr") == ids[3]);
    CHECK(statuses[2].at("idstr") == ids[2]);
    CHECK(statuses[3].at("idstr") == ids[0]);
    CHECK(statuses[0].at("id").is_number_integer());
    CHECK(std::to_string(statuses[0].at("id").get<std::int64_t>()) == ids[4]);
    CHECK(statuses[0].at("text") == "第5条 https://a.cn/?d=5");
    // "Tue May 31 17:46:55 +0800 2011"
    const std::string created = statuses[0].at("created_at");
    CHECK(created.size() == 30);
    CHECK(created.substr(19, 6) == " +0800");
  }

  SECTION("count and page; since_id") {
    const json first = json_of(read("&count=2&page=1"));
    REQUIRE(first.at("statuses").size() == 2);
    CHECK(first.at("statuses")[0].at("idstr") == ids[4]);
    const json second = json_of(read("&count=2&page=2"));
    REQUIRE(second.at("statuses").size() == 2);
    CHECK(second.at("statuses")[1].at("idstr") == ids[0]);
    CHECK(json_of(read("&count=2&page=3")).at("statuses").empty());
    const json newer = json_of(read("&since_id=" + ids[2]));
    REQUIRE(newer.at("statuses").size() == 2);
    CHECK(newer.at("statuses")[1].at("idstr") == ids[3]);
  }

  SECTION("errors in Weibo's format") {
    require_weibo_error(read("&count=101"), 400, 10017, timeline);
    require_weibo_error(read("&page=0"), 400, 10017, timeline);
    require_weibo_error(read("", "nope"), 400, 21332, timeline);
    require_weibo_error(http("GET", sim.url + timeline), 400, 10006, timeline);
    require_weibo_error(post(sim.url, timeline, "access_token=" + std::string(kToken)), 400, 10021,
                        timeline);
  }
}
