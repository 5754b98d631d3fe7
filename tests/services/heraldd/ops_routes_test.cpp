// The operator-facing routes against a real heraldd, redis-server and herald-sim: the item list and
// its cursor, dead letters and replay (dead letters made by herald-sim faults), /metrics parsed
// back line by line, and items a publisher submits with its CMS's approval record.
#include <algorithm>
#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "core/digest.h"
#include "tests/support/herald_processes.h"
#include "tests/support/redis_server.h"

using namespace herald;
using namespace herald::test;
using nlohmann::json;

namespace {

constexpr const char* kPublisherToken = "publisher-token";
constexpr const char* kDrafterToken = "drafter-token";

std::vector<std::pair<std::string, std::string>> json_headers() {
  return {{"Content-Type", "application/json"}};
}

json ops_config(const std::string& prefix, const std::string& sim_url) {
  json config = test_config(prefix, sim_url);
  config["auth"]["users"].push_back(
      {{"name", "cms"}, {"roles", {"publisher"}}, {"token_sha256", sha256_hex(kPublisherToken)}});
  config["auth"]["users"].push_back(
      {{"name", "draft"}, {"roles", {"drafter"}}, {"token_sha256", sha256_hex(kDrafterToken)}});
  return config;
}

json publication(const std::string& title) {
  return sample_publication(title);
}

void expect_error(const HttpResponse& r, long status, const std::string& code,
                  const std::string& field = "") {
  INFO(r.body);
  CHECK(r.status == status);
  const json body = json_of(r);
  CHECK(body.at("error").at("code") == code);
  CHECK_FALSE(body["error"].at("message").get<std::string>().empty());
  if (!field.empty()) CHECK(body["error"].value("field", "") == field);
}

struct Fixture {
  std::string prefix = unique_key_prefix("ops");
  std::string dir = make_temp_dir("ops");
  SimHandle sim;
  HeralddHandle daemon;

  explicit Fixture(const std::function<void(json&)>& adjust = {},
                   const std::vector<std::string>& sim_args = {})
      : sim(start_sim(sim_args)) {
    json config = ops_config(prefix, sim.url);
    if (adjust) adjust(config);
    daemon = start_heraldd(config, dir);
  }

  std::string submit(const json& item, const std::string& token = kDutyToken) {
    auto r = http("POST", daemon.url + "/v1/items", token, item.dump(), json_headers());
    INFO(r.body);
    REQUIRE(r.status == 201);
    return json_of(r).at("id");
  }
  json get(const std::string& path, const std::string& token = kAdminToken) {
    auto r = http("GET", daemon.url + path, token);
    INFO(path << ": " << r.body);
    REQUIRE(r.status == 200);
    return json_of(r);
  }
  json item(const std::string& id) { return get("/v1/items/" + id); }
  bool published(const std::string& id) { return item(id).at("state") == "published"; }
};

std::vector<std::string> ids_of(const json& page) {
  std::vector<std::string> out;
  for (const auto& i : page.at("items")) out.push_back(i.at("id"));
  return out;
}

// Pages through GET /v1/items?<query> with `limit`, calling `between` after each page.
std::vector<std::string> page_through(Fixture& f, const std::string& query, int limit,
                                      const std::function<void()>& between = {}) {
  std::vector<std::string> all;
  std::string cursor;
  for (int pages = 0; pages < 100; ++pages) {
    std::string path = "/v1/items?limit=" + std::to_string(limit);
    if (!query.empty()) path += "&" + query;
    if (!cursor.empty()) path += "&cursor=" + cursor;
    const json page = f.get(path);
    CHECK(page.at("items").size() <= static_cast<std::size_t>(limit));
    for (const auto& id : ids_of(page)) all.push_back(id);
    if (between) between();
    if (page.at("next_cursor").is_null()) return all;
    cursor = page["next_cursor"];
  }
  FAIL("no last page after 100 pages");
  return all;
}

}  // namespace

TEST_CASE("GET /v1/items lists newest first, a page at a time, unshaken by items added meanwhile",
          "[api][list]") {
  Fixture f;
  std::vector<std::string> ids;  // in submission order
  for (int i = 0; i < 7; ++i) {
    ids.push_back(f.submit(i % 3 == 0 ? sample_alert() : publication("动态 " + std::to_string(i))));
  }
  // Newest first is item id order, descending: an id starts with its creation millisecond, and
  // items created in the same millisecond (it happens here) are ordered by the id's random part.
  std::vector<std::string> newest_first = ids;
  std::sort(newest_first.rbegin(), newest_first.rend());
  REQUIRE(newest_first.front().substr(0, 10) == ids.back().substr(0, 10));

  SECTION("pages of 3 give every item once, newest first, even as new items arrive") {
    int added = 0;
    const auto seen = page_through(f, "", 3, [&] {
      if (added++ < 2) f.submit(publication("翻页时新增"));  // newer than every page's cursor
    });
    CHECK(seen == newest_first);
  }
  SECTION("the first page is the newest, with the default limit") {
    const json page = f.get("/v1/items");
    CHECK(ids_of(page) == newest_first);
    CHECK(page.at("next_cursor").is_null());
    const json& first = page["items"][0];
    CHECK(first.at("id") == newest_first.front());
    // Every third item is an alert: ids[0], ids[3], ids[6].
    const bool newest_is_alert = newest_first.front() == ids[6] || newest_first.front() == ids[3] ||
                                 newest_first.front() == ids[0];
    CHECK(first.at("kind") == (newest_is_alert ? "alert" : "publication"));
    CHECK(first.at("state") == "pending_review");
    CHECK(first.at("author") == "duty");
    CHECK(first.at("channels") == json::array({"webhook"}));
  }
  SECTION("filters by kind and category, and pages within the filter") {
    std::vector<std::string> alerts = {ids[6], ids[3], ids[0]};
    std::sort(alerts.rbegin(), alerts.rend());  // newest first (see above)
    CHECK(page_through(f, "kind=alert", 2) == alerts);
    CHECK(page_through(f, "category=overseas_safety", 1) == alerts);
    CHECK(page_through(f, "kind=publication&category=finance", 5).empty());
    CHECK(page_through(f, "kind=publication", 50).size() == 4);
  }
  SECTION("filters by state, as GET /v1/items/{id} reports it") {
    approve_twice(f.daemon.url, ids[2]);
    REQUIRE(wait_until([&] { return f.published(ids[2]); }, std::chrono::seconds(10)));
    CHECK(page_through(f, "state=published", 2) == std::vector<std::string>{ids[2]});
    CHECK(page_through(f, "state=pending_review", 4).size() == 6);
    CHECK(page_through(f, "state=rejected", 4).empty());
  }
  SECTION("filters by creation time: from inclusive, to exclusive") {
    std::string middle_created = f.item(ids[3]).at("created_at");
    if (auto plus = middle_created.find('+'); plus != std::string::npos) {
      middle_created.replace(plus, 1, "%2B");  // a '+' in a query is a space
    }
    const auto later = page_through(f, "from=" + middle_created, 10);
    // Items created in the same millisecond as ids[3] may precede it; ids[3..6] are all there.
    for (int i = 3; i < 7; ++i) CHECK(std::count(later.begin(), later.end(), ids[i]) == 1);
    const auto before = page_through(f, "to=" + middle_created, 10);
    for (const auto& id : before) CHECK(std::count(later.begin(), later.end(), id) == 0);
    CHECK(before.size() + later.size() == 7);
    CHECK(page_through(f, "from=2000-01-01&to=2000-01-02", 10).empty());
  }
  SECTION("a bad parameter is a 400 naming it") {
    for (const auto& [query, field] :
         std::vector<std::pair<std::string, std::string>>{{"limit=0", "limit"},
                                                          {"limit=201", "limit"},
                                                          {"limit=ten", "limit"},
                                                          {"state=lost", "state"},
                                                          {"kind=memo", "kind"},
                                                          {"category=sports", "category"},
                                                          {"from=yesterday", "from"},
                                                          {"to=2026-13-45", "to"},
                                                          {"from=2026-11-29&to=2026-11-28", "to"},
                                                          {"cursor=not-a-cursor", "cursor"},
                                                          {"colour=red", "colour"}}) {
      INFO(query);
      expect_error(http("GET", f.daemon.url + "/v1/items?" + query, kAdminToken), 400,
                   "invalid_parameter", field);
    }
  }
}

TEST_CASE("dead letters are listed across channels with their last error and can be replayed",
          "[api][dead]") {
  // Every webhook call fails (503) and one attempt is all a delivery gets: each one dies.
  Fixture f([](json& c) { c["queue"]["max_attempts"] = 1; },
            {"--faults", "webhook:fail_next=1000"});
  std::vector<std::string> items;
  for (int i = 0; i < 3; ++i) {
    items.push_back(f.submit(publication("会失败的 " + std::to_string(i))));
    approve_twice(f.daemon.url, items.back());
  }
  json dead;
  REQUIRE(wait_until(
      [&] {
        dead = f.get("/v1/deliveries/dead", kDutyToken);
        return dead.at("deliveries").size() == 3;
      },
      std::chrono::seconds(15)));

  const json& newest = dead["deliveries"][0];
  CHECK(newest.at("channel") == "webhook");
  CHECK(newest.at("attempts") == 1);
  CHECK(newest.at("state") == "dead");
  CHECK_FALSE(newest.at("last_error").at("code").get<std::string>().empty());
  CHECK_FALSE(newest.at("last_error").at("message").get<std::string>().empty());
  std::set<std::string> dead_items;
  for (const auto& d : dead["deliveries"]) {
    dead_items.insert(d.at("item_id").get<std::string>());
    CHECK(d.at("id") == d.at("item_id").get<std::string>() + ".webhook");
  }
  CHECK(dead_items == std::set<std::string>(items.begin(), items.end()));
  for (std::size_t i = 1; i < dead["deliveries"].size(); ++i) {
    CHECK(dead["deliveries"][i - 1].at("dead_at") >= dead["deliveries"][i].at("dead_at"));
  }

  SECTION("pages with a cursor and filters by channel") {
    const json first = f.get("/v1/deliveries/dead?limit=2");
    REQUIRE(first.at("deliveries").size() == 2);
    REQUIRE(first.at("next_cursor").is_string());
    const json second =
        f.get("/v1/deliveries/dead?limit=2&cursor=" + first["next_cursor"].get<std::string>());
    REQUIRE(second.at("deliveries").size() == 1);
    CHECK(second.at("next_cursor").is_null());
    CHECK(second["deliveries"][0].at("id") == dead["deliveries"][2].at("id"));
    CHECK(f.get("/v1/deliveries/dead?channel=webhook").at("deliveries").size() == 3);
    expect_error(http("GET", f.daemon.url + "/v1/deliveries/dead?channel=weibo", kAdminToken), 400,
                 "invalid_parameter", "channel");
    expect_error(http("GET", f.daemon.url + "/v1/deliveries/dead?limit=-1", kAdminToken), 400,
                 "invalid_parameter", "limit");
  }

  SECTION("a replay re-queues it, audited with who, and it publishes once the platform is back") {
    REQUIRE(http("POST", f.sim.url + "/_sim/faults", "", "").status == 200);  // no faults
    const std::string delivery = dead["deliveries"][0].at("id");
    const std::string item = dead["deliveries"][0].at("item_id");
    const auto replayed = http("POST", f.daemon.url + "/v1/deliveries/" + delivery + "/replay",
                               kDutyToken, "", json_headers());
    INFO(replayed.body);
    CHECK(replayed.status == 202);
    CHECK(json_of(replayed).at("replayed_by") == "duty");
    REQUIRE(wait_until([&] { return f.published(item); }, std::chrono::seconds(10)));
    CHECK(f.get("/v1/deliveries/dead").at("deliveries").size() == 2);

    bool audited = false;
    const json history = f.get("/v1/items/" + item + "/audit");
    for (const auto& e : history.at("events")) {
      if (e.at("event") == "replayed") audited = e.at("who") == "duty";
    }
    CHECK(audited);

    expect_error(http("POST", f.daemon.url + "/v1/deliveries/" + delivery + "/replay", kAdminToken),
                 409, "not_dead");
    expect_error(http("POST", f.daemon.url + "/v1/deliveries/nothing.webhook/replay", kAdminToken),
                 404, "not_found");
    expect_error(http("POST", f.daemon.url + "/v1/deliveries/nothing.weibo/replay", kAdminToken),
                 404, "not_found");
    expect_error(http("GET", f.daemon.url + "/v1/deliveries/" + delivery + "/replay", kAdminToken),
                 405, "method_not_allowed");
  }
}

namespace {

// One sample line of the text format 0.0.4: name, optional {labels}, value.
const std::regex kSampleLine(
    R"re(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*")*\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN)$)re");
const std::regex kHelpLine(R"(^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$)");
const std::regex kTypeLine(R"(^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram)$)");

// sample "name{labels}" → value, after checking every line's syntax.
std::map<std::string, double> parse_exposition(const std::string& text) {
  std::map<std::string, double> samples;
  std::set<std::string> typed;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    INFO(line);
    if (line.rfind("# HELP ", 0) == 0) {
      CHECK(std::regex_match(line, kHelpLine));
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      CHECK(std::regex_match(line, kTypeLine));
      CHECK(typed.insert(line.substr(7, line.find(' ', 7) - 7)).second);  // one TYPE per family
      continue;
    }
    std::smatch m;
    REQUIRE(std::regex_match(line, m, kSampleLine));
    const std::string series = line.substr(0, line.rfind(' '));
    CHECK(samples.count(series) == 0);
    samples[series] = std::stod(m[m.size() - 1].str() == "+Inf" ? "inf" : m[m.size() - 1].str());
  }
  CHECK(text.back() == '\n');
  return samples;
}

}  // namespace

TEST_CASE("GET /metrics is the Prometheus text format with queue, delivery and HTTP figures",
          "[api][metrics]") {
  Fixture f;
  const std::string id = f.submit(sample_alert());
  approve_twice(f.daemon.url, id);
  REQUIRE(wait_until([&] { return f.published(id); }, std::chrono::seconds(10)));
  CHECK(http("GET", f.daemon.url + "/v1/items/no-such-item", kAdminToken).status == 404);
  CHECK(http("GET", f.daemon.url + "/v1/items/no-such-item-either", kAdminToken).status == 404);

  const auto r = http("GET", f.daemon.url + "/metrics");
  REQUIRE(r.status == 200);
  CHECK(r.header("content-type").rfind("text/plain; version=0.0.4", 0) == 0);
  const auto samples = parse_exposition(r.body);

  CHECK(samples.at(R"(herald_deliveries_total{channel="webhook",outcome="published"})") == 1);
  CHECK(samples.at(R"(herald_retries_total{channel="webhook"})") == 0);
  CHECK(samples.at(R"(herald_queue_depth{channel="webhook",lane="alert"})") == 0);
  CHECK(samples.at(R"(herald_queue_depth{channel="webhook",lane="routine"})") == 0);
  CHECK(samples.at(R"(herald_in_flight{channel="webhook"})") == 0);
  CHECK(samples.at(R"(herald_dead_letters{channel="webhook"})") == 0);
  CHECK(samples.count(R"(herald_queue_oldest_waiting_seconds{channel="webhook"})") == 1);
  CHECK(samples.at("herald_metrics_redis_up") == 1);
  // No channel here fetches tokens: the family is there, without samples.
  CHECK(r.body.find("# TYPE herald_token_refreshes_total counter\n") != std::string::npos);
  // Routes by pattern: two different unknown ids are one series.
  CHECK(samples.at(R"(herald_http_requests_total{route="/v1/items/{id}",status="404"})") == 2);
  CHECK(samples.at(R"(herald_http_requests_total{route="/v1/items",status="201"})") == 1);
  CHECK(samples.at(
            R"(herald_http_requests_total{route="/v1/items/{id}/approvals",status="201"})") == 2);
  for (const auto& [series, value] : samples) {
    INFO(series);
    CHECK(series.find(id) == std::string::npos);
    CHECK(series.find("no-such-item") == std::string::npos);
  }
  // A histogram's buckets are cumulative and end with +Inf = count.
  const std::string h =
      R"(herald_http_request_duration_seconds_bucket{route="/v1/items/{id}",le=")";
  const double count =
      samples.at(R"(herald_http_request_duration_seconds_count{route="/v1/items/{id}"})");
  CHECK(count >= 2);
  CHECK(samples.at(h + R"(+Inf"})") == count);
  CHECK(samples.at(h + R"(0.005"})") <= samples.at(h + R"(10"})"));

  SECTION("a later scrape counts the scrape before it") {
    const auto again = parse_exposition(http("GET", f.daemon.url + "/metrics").body);
    CHECK(again.at(R"(herald_http_requests_total{route="/metrics",status="200"})") >= 1);
  }
}

namespace {

constexpr const char* kCmsKey = "trs-cms-signing-key";

json approval(const std::string& user, const std::string& at = "2026-01-05T09:00:00+08:00") {
  return {{"user", user}, {"decision", "approve"}, {"at", at}, {"comment", "同意发布"}};
}

// The record as the CMS "trs-cms" sends it: each approval without a signature is signed with
// kCmsKey over the item's content hash (README.md, "CMS approval records").
json with_record(json item, json approvals) {
  const std::string content = sha256_hex(item.dump());
  for (auto& a : approvals) {
    if (a.contains("signature")) continue;
    const std::string message = "herald-cms-approval-v1\n" + content + "\n" + a.value("user", "") +
                                "\n" + a.value("decision", "") + "\n" + a.value("at", "") + "\n" +
                                a.value("comment", "");
    a["signature"] = hmac_sha256_hex(kCmsKey, message);
  }
  item["approval_record"] = {
      {"system", "trs-cms"}, {"reference", "WF-2026-0042"}, {"approvals", std::move(approvals)}};
  return item;
}

void accept_cms(json& config, const std::string& alerts = "refused") {
  config["review"]["accept_cms_approvals"] = true;
  config["review"]["cms_alerts"] = alerts;
  config["review"]["cms"] = {
      {{"name", "trs-cms"}, {"publisher_user", "cms"}, {"hmac_key", kCmsKey}}};
}

}  // namespace

TEST_CASE("a publisher's item with a valid CMS approval record is approved and published at once",
          "[api][review][cms]") {
  Fixture f([](json& c) { accept_cms(c, "accepted"); });
  const std::string items = f.daemon.url + "/v1/items";

  SECTION("accepted: stored approved with the record, audited, fanned out") {
    auto headers = json_headers();
    headers.emplace_back("Idempotency-Key", "cms-wf-42");
    const json body = with_record(sample_alert(), {approval(" REV "), approval("rev2")});
    const auto r = http("POST", items, kPublisherToken, body.dump(), headers);
    INFO(r.body);
    REQUIRE(r.status == 201);
    const std::string id = json_of(r).at("id");
    CHECK(json_of(r).at("state") == "queued");
    REQUIRE(wait_until([&] { return f.published(id); }, std::chrono::seconds(10)));
    CHECK(sim_published(f.sim.url, "webhook").at("count") == 1);

    const json item = f.item(id);
    CHECK(item.at("author") == "cms");
    CHECK(item.at("approval_record").at("reference") == "WF-2026-0042");
    REQUIRE(item.at("approvals").size() == 2);
    CHECK(item["approvals"][0].at("user") == "rev");
    CHECK(item["approvals"][0].at("via") == "cms:trs-cms");
    CHECK(item["approvals"][1].at("decision") == "approve");
    CHECK(item["approvals"][1].at("via") == "cms:trs-cms");

    std::vector<std::string> events;
    const json history = f.get("/v1/items/" + id + "/audit");
    for (const auto& e : history.at("events")) {
      events.push_back(e.at("event"));
      if (e.at("event") == "cms_approved") {
        CHECK(e.at("who") == "cms");
        CHECK(e.at("system") == "trs-cms");
        CHECK(e.at("approvers") == "rev,rev2");
      }
    }
    REQUIRE(events.size() >= 4);
    CHECK(std::vector<std::string>(events.begin(), events.begin() + 4) ==
          std::vector<std::string>{"submitted", "cms_approved", "approved", "queued"});

    // The same key and body: the first answer, nothing queued twice; another body: 409.
    const auto again = http("POST", items, kPublisherToken, body.dump(), headers);
    CHECK(again.status == 201);
    CHECK(json_of(again).at("id") == id);
    CHECK(again.header("idempotent-replayed") == "true");
    json other_item = sample_alert();
    other_item["title"] = "另一条";
    const json other = with_record(other_item, {approval("rev"), approval("rev2")});
    expect_error(http("POST", items, kPublisherToken, other.dump(), headers), 409,
                 "idempotency_conflict");
    CHECK(sim_published(f.sim.url, "webhook").at("count") == 1);
  }

  SECTION("refused: a record that breaks the review rules") {
    const std::string future = format_rfc3339(SystemClock().now() + std::chrono::hours(1));
    json unsigned_approval = approval("rev2");
    unsigned_approval["signature"] = "";
    json other_key = approval("rev2");
    other_key["signature"] = hmac_sha256_hex("guessed-key", "anything");
    struct Case {
      const char* what;
      json approvals;
      std::string field;
    };
    const std::vector<Case> cases = {
        // json::array: a braced single json is an array for gcc but a copy for clang (CWG 1467).
        {"one approval only", json::array({approval("rev")}), "approval_record.approvals"},
        {"the same user twice",
         {approval("rev"), approval("rev")},
         "approval_record.approvals[1].user"},
        {"the same user in another case",
         {approval("rev"), approval("Rev")},
         "approval_record.approvals[1].user"},
        {"the submitter approving",
         {approval("rev"), approval("cms")},
         "approval_record.approvals[1].user"},
        {"a user without the reviewer role",
         {approval("rev"), approval("admin")},
         "approval_record.approvals[1].user"},
        {"no such user",
         {approval("rev"), approval("王科长")},
         "approval_record.approvals[1].user"},
        {"an unsigned approval",
         {approval("rev"), unsigned_approval},
         "approval_record.approvals[1].signature"},
        {"a signature by another key",
         {approval("rev"), other_key},
         "approval_record.approvals[1].signature"},
        {"an approval in the future",
         {approval("rev"), approval("rev2", future)},
         "approval_record.approvals[1].at"},
        {"a rejection",
         {approval("rev"),
          {{"user", "rev2"}, {"decision", "reject"}, {"at", "2026-01-05T09:00:00+08:00"}}},
         "approval_record.approvals[1].decision"},
        {"a time that is no time",
         {approval("rev"), approval("rev2", "yesterday")},
         "approval_record.approvals[1].at"},
    };
    for (const auto& c : cases) {
      INFO(c.what);
      expect_error(http("POST", items, kPublisherToken,
                        with_record(sample_alert(), c.approvals).dump(), json_headers()),
                   422, "invalid_approval_record", c.field);
    }
    // Signed for one item, submitted with another: the record is not about this content.
    json swapped = with_record(sample_alert(), {approval("rev"), approval("rev2")});
    swapped["title"] = "另一条";
    expect_error(http("POST", items, kPublisherToken, swapped.dump(), json_headers()), 422,
                 "invalid_approval_record", "approval_record.approvals[0].signature");
    json no_system = with_record(sample_alert(), {approval("rev"), approval("rev2")});
    no_system["approval_record"].erase("system");
    expect_error(http("POST", items, kPublisherToken, no_system.dump(), json_headers()), 422,
                 "invalid_approval_record", "approval_record.system");
    CHECK(f.get("/v1/items").at("items").empty());
  }

  SECTION("refused: a record from a role other than publisher") {
    const json body = with_record(sample_alert(), {approval("rev"), approval("rev2")});
    for (const char* token : {kDrafterToken, kDutyToken}) {
      expect_error(http("POST", items, token, body.dump(), json_headers()), 403, "forbidden",
                   "approval_record");
    }
    CHECK(f.get("/v1/items").at("items").empty());
  }

  SECTION("a publisher without a record goes through review as usual") {
    const std::string id = f.submit(sample_alert(), kPublisherToken);
    CHECK(f.item(id).at("state") == "pending_review");
  }
}

TEST_CASE("with review.cms_alerts \"refused\" an alert from a CMS needs Herald's reviewers",
          "[api][review][cms]") {
  Fixture f([](json& c) { accept_cms(c); });
  const std::string items = f.daemon.url + "/v1/items";
  expect_error(
      http("POST", items, kPublisherToken,
           with_record(sample_alert(), {approval("rev"), approval("rev2")}).dump(), json_headers()),
      403, "cms_alerts_refused", "approval_record");
  CHECK(f.get("/v1/items").at("items").empty());

  // A publication from the same CMS still goes through at once.
  const auto r =
      http("POST", items, kPublisherToken,
           with_record(publication("工作动态"), {approval("rev"), approval("rev2")}).dump(),
           json_headers());
  INFO(r.body);
  REQUIRE(r.status == 201);
  CHECK(json_of(r).at("state") == "queued");
}

TEST_CASE("CMS approval records are refused unless review.accept_cms_approvals is on",
          "[api][review][cms]") {
  Fixture f;
  const json body = with_record(sample_alert(), {approval("rev"), approval("rev2")});
  expect_error(
      http("POST", f.daemon.url + "/v1/items", kPublisherToken, body.dump(), json_headers()), 403,
      "cms_approvals_disabled", "approval_record");
  CHECK(f.get("/v1/items").at("items").empty());
}
