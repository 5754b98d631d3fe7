// Statistics against a real heraldd, redis-server and herald-sim: counts via GET /v1/stats after
// real publishing (JSON and CSV, the CSV parsed back), parameter errors, historic imports (dry run,
// real, twice), and reconciliation after a run with platform faults (retries and dead letters).
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <map>

#include "core/clock.h"
#include "core/csv.h"
#include "core/digest.h"
#include "queue/delivery_queue.h"
#include "services/heraldd/stats_routes.h"
#include "tests/support/herald_processes.h"
#include "tests/support/redis_server.h"

using namespace herald;
using namespace herald::test;
using nlohmann::json;

namespace {

constexpr const char* kCompilerToken = "compiler-token";

struct Fixture {
  std::string prefix = unique_key_prefix("stats");
  std::string dir = make_temp_dir("stats");
  SimHandle sim;
  HeralddHandle daemon;

  explicit Fixture(const std::function<void(json&)>& adjust = {},
                   const std::vector<std::string>& sim_args = {})
      : sim(start_sim(sim_args)) {
    json config = test_config(prefix, sim.url);
    config["auth"]["users"].push_back({{"name", "compiler"},
                                       {"roles", {"compiler"}},
                                       {"token_sha256", sha256_hex(kCompilerToken)}});
    // Drills go out (marked) so that the tests see them published and still never counted.
    config["channels"]["webhook"]["drills"] = "marked";
    // The imports below are of channels the office had before Herald.
    config["import"]["historic_channels"] = {"website", "portal", "weibo"};
    if (adjust) adjust(config);
    daemon = start_heraldd(config, dir);
  }

  std::string submit(const json& item) {
    auto r = http("POST", daemon.url + "/v1/items", kDutyToken, item.dump(),
                  {{"Content-Type", "application/json"}});
    INFO(r.body);
    REQUIRE(r.status == 201);
    const std::string id = json_of(r).at("id");
    approve_twice(daemon.url, id);
    return id;
  }

  // True once every delivery of the item is published or dead.
  bool settled(const std::string& id) {
    auto r = http("GET", daemon.url + "/v1/items/" + id, kAdminToken);
    if (r.status != 200) return false;
    const json item = json_of(r);
    if (!item.contains("deliveries") || item["deliveries"].empty()) return false;
    for (const auto& d : item["deliveries"]) {
      if (d.at("state") != "published" && d.at("state") != "dead") return false;
    }
    return true;
  }

  void wait_settled(const std::vector<std::string>& ids) {
    const bool done = wait_until(
        [&] {
          for (const auto& id : ids) {
            if (!settled(id)) return false;
          }
          return true;
        },
        std::chrono::seconds(60), std::chrono::milliseconds(50));
    INFO(read_file(daemon.log_path));
    REQUIRE(done);
  }

  HttpResponse get(const std::string& path, const std::string& token = kCompilerToken) {
    return http("GET", daemon.url + path, token);
  }
  json get_json(const std::string& path) {
    auto r = get(path);
    INFO(path << ": " << r.body);
    REQUIRE(r.status == 200);
    return json_of(r);
  }
  HttpResponse import(const std::string& csv, bool dry_run) {
    return http("POST", daemon.url + "/v1/imports?dry_run=" + (dry_run ? "true" : "false"),
                kCompilerToken, csv, {{"Content-Type", "text/csv"}});
  }
};

json publication(const std::string& title, const std::string& status = "actual") {
  return {{"kind", "publication"}, {"category", "work_news"}, {"title", title},
          {"body", "正文"},        {"channels", {"webhook"}}, {"status", status}};
}

// The day before and after today: a run that crosses midnight still falls inside.
std::string period() {
  const auto now = std::chrono::system_clock::now();
  return "from=" + tally_day(now - std::chrono::hours(24), 480) +
         "&to=" + tally_day(now + std::chrono::hours(24), 480);
}

// The years before, of and after today, whole: a query of whole months reads the month rollups.
std::string whole_years() {
  const int year = std::stoi(tally_day(std::chrono::system_clock::now(), 480).substr(0, 4));
  return "from=" + std::to_string(year - 1) + "-01-01&to=" + std::to_string(year + 1) + "-12-31";
}

void expect_bad_parameter(const HttpResponse& r, const std::string& field) {
  INFO(r.body);
  CHECK(r.status == 400);
  CHECK(json_of(r)["error"].value("field", "") == field);
}

const char* kImportCsv =
    "published_at,category,kind,level,channels,title,link,remote_ids\r\n"
    "2013-03-05,work_news,publication,,portal;weibo,\"省外办召开会议, 部署工作\","
    "http://www.scfao.gov.cn/a/1,weibo=3560000000000001\r\n"
    "2013-12-31T23:59:59+08:00,overseas_safety,alert,caution,portal,\"提醒\"\"注意安全\"\"\",,\r\n"
    "2013-07-01,finance,publication,,portal,财政信息,,portal=p-9\r\n";

}  // namespace

TEST_CASE("GET /v1/stats counts what heraldd published through herald-sim, as JSON and CSV",
          "[heraldd][stats]") {
  Fixture f;
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(f.submit(publication("工作动态 " + std::to_string(i))));
  ids.push_back(f.submit(publication("演练 drill", "exercise")));
  f.wait_settled(ids);

  const json all = f.get_json("/v1/stats?" + period());
  REQUIRE(all["rows"].size() == 1);
  CHECK(all["rows"][0]["items"] == 3);  // the drill was published but never counts
  CHECK(all["rows"][0]["deliveries"] == 3);
  CHECK(all["rows"][0]["failed"] == 0);
  CHECK(all["utc_offset_minutes"] == 480);

  SECTION("grouped by channel, category, kind and day") {
    const json grouped =
        f.get_json("/v1/stats?" + period() + "&group_by=channel,category,kind,day");
    REQUIRE(grouped["rows"].size() >= 1);
    long long items = 0;
    for (const auto& row : grouped["rows"]) {
      CHECK(row["channel"] == "webhook");
      CHECK(row["category"] == "work_news");
      CHECK(row["kind"] == "publication");
      items += row["items"].get<long long>();
    }
    CHECK(items == 3);
  }
  SECTION("CSV has a header row and parses back to the same figures") {
    auto r = f.get("/v1/stats?" + period() + "&group_by=channel,month&format=csv");
    REQUIRE(r.status == 200);
    CHECK(r.header("content-type").rfind("text/csv", 0) == 0);
    auto table = parse_csv(r.body);
    REQUIRE(table);
    REQUIRE(table->size() >= 2);
    CHECK((*table)[0].fields == std::vector<std::string>{"channel", "month", "items", "deliveries",
                                                         "failed", "retracted", "corrected"});
    long long deliveries = 0;
    for (std::size_t i = 1; i < table->size(); ++i) {
      CHECK((*table)[i].fields[0] == "webhook");
      deliveries += std::stoll((*table)[i].fields[3]);
    }
    CHECK(deliveries == 3);
  }
  SECTION("bad parameters are answered 400 naming the parameter") {
    expect_bad_parameter(f.get("/v1/stats?to=2026-12-31"), "from");
    expect_bad_parameter(f.get("/v1/stats?from=2026-1-01&to=2026-12-31"), "from");
    expect_bad_parameter(f.get("/v1/stats?from=2026-12-01&to=2026-11-30"), "to");
    expect_bad_parameter(f.get("/v1/stats?from=2026-01-01&to=2026-12-31&group_by=channel,colour"),
                         "group_by");
    expect_bad_parameter(f.get("/v1/stats?from=2026-01-01&to=2026-12-31&format=xml"), "format");
    expect_bad_parameter(f.get("/v1/stats?from=2026-01-01&to=2026-12-31&year=2026"), "year");
  }
  SECTION("only compilers and admins may read them") {
    CHECK(f.get("/v1/stats?" + period(), kDutyToken).status == 403);
    CHECK(f.get("/v1/stats?" + period(), "").status == 401);
    CHECK(f.get("/v1/stats?" + period(), kAdminToken).status == 200);
  }
  SECTION("the counters reconcile with the ledger") {
    const json rec = f.get_json("/v1/stats/reconcile?" + period());
    CHECK(rec["ok"] == true);
    CHECK(rec["differences"].empty());
    CHECK(rec["ledger_entries"] == 3);  // the drill's delivery is not a counted entry
  }
}

TEST_CASE("POST /v1/imports validates every row, dry-runs, imports once, and reconciles",
          "[heraldd][stats][import]") {
  Fixture f;
  SECTION("a dry run reports what would be counted and writes nothing") {
    auto r = f.import(kImportCsv, true);
    INFO(r.body);
    REQUIRE(r.status == 200);
    const json summary = json_of(r);
    CHECK(summary["dry_run"] == true);
    CHECK(summary["rows"] == 3);
    CHECK(summary["new_items"] == 3);
    CHECK(summary["deliveries"] == 4);
    CHECK(summary["deliveries_by_channel"]["portal"] == 3);
    CHECK(summary["items_by_year"]["2013"] == 3);
    CHECK(f.get_json("/v1/stats?from=2013-01-01&to=2013-12-31")["rows"][0]["items"] == 0);
  }
  SECTION("a real import counts as if published then; a second one adds nothing") {
    auto r = f.import(kImportCsv, false);
    INFO(r.body);
    REQUIRE(r.status == 200);
    CHECK(json_of(r)["new_items"] == 3);
    const json rows =
        f.get_json("/v1/stats?from=2013-01-01&to=2013-12-31&group_by=channel")["rows"];
    REQUIRE(rows.size() == 2);
    CHECK(rows[0]["channel"] == "portal");
    CHECK(rows[0]["deliveries"] == 3);
    CHECK(rows[1]["channel"] == "weibo");
    CHECK(rows[1]["deliveries"] == 1);
    const json by_day =
        f.get_json("/v1/stats?from=2013-12-31&to=2014-01-01&group_by=day,level")["rows"];
    REQUIRE(by_day.size() == 1);
    CHECK(by_day[0]["day"] == "2013-12-31");
    CHECK(by_day[0]["level"] == "caution");
    CHECK(by_day[0]["items"] == 1);

    // The item: published, imported, audited with who imported it.
    const std::string id = json_of(r)["item_ids"][0];
    const json item = f.get_json("/v1/items/" + id);
    CHECK(item["state"] == "published");
    auto audit = f.get("/v1/items/" + id + "/audit", kAdminToken);
    INFO(audit.body);
    CHECK(audit.body.find("\"imported\"") != std::string::npos);
    CHECK(audit.body.find("\"compiler\"") != std::string::npos);

    auto again = f.import(kImportCsv, false);
    REQUIRE(again.status == 200);
    CHECK(json_of(again)["new_items"] == 0);
    CHECK(json_of(again)["already_imported"] == 3);
    const json total = f.get_json("/v1/stats?from=2013-01-01&to=2013-12-31")["rows"][0];
    CHECK(total["items"] == 3);
    CHECK(total["deliveries"] == 4);
    const json rec = f.get_json("/v1/stats/reconcile?from=2013-01-01&to=2014-12-31");
    CHECK(rec["ok"] == true);
  }
  SECTION("an invalid file is refused whole, each problem with its row and column") {
    const std::string bad =
        "published_at,category,kind,level,channels,title,link,remote_ids\r\n"
        "2013-03-05,work_news,publication,,portal,fine,,\r\n"
        "2013-02-30,work_news,publication,,portal,bad day,,\r\n"
        "2013-03-06,culture,alert,,portal,,ftp://x,weibo=1\r\n";
    auto r = f.import(bad, false);
    INFO(r.body);
    REQUIRE(r.status == 422);
    const json error = json_of(r)["error"];
    CHECK(error["field"] == "row 2, column published_at");
    std::map<std::string, int> columns;
    for (const auto& d : error["details"]) columns[d["column"]] = d["row"];
    CHECK(columns == std::map<std::string, int>{{"published_at", 2},
                                                {"category", 3},
                                                {"level", 3},
                                                {"title", 3},
                                                {"link", 3},
                                                {"remote_ids", 3}});
    CHECK(f.get_json("/v1/stats?from=2013-01-01&to=2013-12-31")["rows"][0]["items"] == 0);
  }
  SECTION("rows are held to the item API's rules, known channels and past years") {
    // The office's year now (UTC+8): imports may not touch it.
    const auto local = std::chrono::system_clock::now() + std::chrono::hours(8);
    const int year = static_cast<int>(
        std::chrono::year_month_day(std::chrono::floor<std::chrono::days>(local)).year());
    const std::string this_year = std::to_string(year);
    const std::string bad =
        "published_at,category,kind,level,channels,title,link,remote_ids\r\n"
        "2013-03-05,work_news,publication,,website,fine,https://www.example.gov.cn/a,\r\n"
        "2013-03-05,work_news,publication,,weibp,misspelt,,\r\n"
        "2013-03-06,work_news,publication,,portal,bare scheme,http://,\r\n" +
        this_year + "-01-01T00:00:00+08:00,work_news,publication,,portal,this year,,\r\n" +
        std::to_string(year + 1) +
        "-06-01,work_news,publication,,portal,next year,,\r\n"
        "2013-03-07,work_news,publication,,portal,\"esc\x1b[2Kfake\",,\r\n"
        "2013-03-08,news,memo,,portal,kind,,\r\n";
    auto r = f.import(bad, false);
    INFO(r.body);
    REQUIRE(r.status == 422);
    const json details = json_of(r)["error"]["details"];
    std::vector<std::pair<int, std::string>> where;
    for (const auto& d : details) where.emplace_back(d["row"], d["column"]);
    CHECK(where == std::vector<std::pair<int, std::string>>{{2, "channels"},
                                                            {3, "link"},
                                                            {4, "published_at"},
                                                            {5, "published_at"},
                                                            {6, "title"},
                                                            {7, "category"},
                                                            {7, "kind"}});
    CHECK(details[0]["message"].get<std::string>().find("import.historic_channels") !=
          std::string::npos);
    CHECK(details[2]["message"].get<std::string>().find("past years") != std::string::npos);
    CHECK(details[4]["message"].get<std::string>().find("U+001B") != std::string::npos);
    // Nothing was stored, and the item list still answers.
    CHECK(f.get_json("/v1/stats?from=2013-01-01&to=2013-12-31")["rows"][0]["items"] == 0);
    CHECK(f.get("/v1/items", kAdminToken).status == 200);
  }
  SECTION("the header row is required, the body must be CSV and UTF-8") {
    auto no_header = f.import("2013-03-05,work_news,publication,,portal,t,,\r\n", false);
    CHECK(no_header.status == 422);
    auto not_csv = http("POST", f.daemon.url + "/v1/imports", kCompilerToken, "{}",
                        {{"Content-Type", "application/json"}});
    CHECK(not_csv.status == 415);
    auto not_utf8 = f.import(
        "published_at,category,kind,level,channels,title,link,remote_ids\r\n"
        "2013-03-05,work_news,publication,,portal,\xC3\x28,,\r\n",
        false);
    INFO(not_utf8.body);
    CHECK(not_utf8.status == 422);
    CHECK(json_of(not_utf8)["error"]["message"].get<std::string>().find("UTF-8") !=
          std::string::npos);
    CHECK(http("POST", f.daemon.url + "/v1/imports", kDutyToken, kImportCsv,
               {{"Content-Type", "text/csv"}})
              .status == 403);
  }
}

TEST_CASE("An import row dated in a year no clock holds is a problem, not an overflow",
          "[heraldd][stats][import]") {
  // Found by fuzzing: the day 9999-01-01 overflowed the nanosecond clock (undefined behaviour).
  const herald::TimePoint now = herald::from_unix_ms(1796601600000);  // 2026-12-07
  for (const char* day : {"9999-01-01", "0001-01-01", "9999-12-31T23:59:59+08:00"}) {
    CAPTURE(day);
    const herald::ParsedImport parsed = herald::parse_import_csv(
        "published_at,category,kind,level,channels,title,link,remote_ids\r\n" + std::string(day) +
            ",work_news,publication,,portal,far away,,\r\n",
        480, now, {"portal"});
    CHECK(parsed.records.empty());
    REQUIRE(parsed.problems.size() == 1);
    CHECK(parsed.problems[0].column == "published_at");
  }
}

TEST_CASE("counters reconcile with the ledger after a run with platform faults",
          "[heraldd][stats]") {
  // 5xx on a tenth of the requests, and the first two fail for sure: retries happen; with two
  // attempts some deliveries may die. Then every request fails for two more items: dead letters.
  Fixture f([](json& c) { c["queue"]["max_attempts"] = 2; },
            {"--faults", "webhook:5xx=0.1,fail_next=2", "--seed", "11"});
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(f.submit(publication("动态 " + std::to_string(i))));
  f.wait_settled(ids);
  REQUIRE(http("POST", f.sim.url + "/_sim/faults", "", "webhook:fail_next=1000").status == 200);
  std::vector<std::string> doomed = {f.submit(publication("doomed 1")),
                                     f.submit(publication("doomed 2"))};
  f.wait_settled(doomed);

  const json total = f.get_json("/v1/stats?" + period())["rows"][0];
  const long long received = sim_published(f.sim.url, "webhook").at("count");
  INFO(total.dump());
  CHECK(total["deliveries"].get<long long>() == received);
  CHECK(total["failed"].get<long long>() >= 2);
  CHECK(total["deliveries"].get<long long>() + total["failed"].get<long long>() == 22);
  const json rec = f.get_json("/v1/stats/reconcile?" + period());
  INFO(rec.dump());
  CHECK(rec["ok"] == true);
  CHECK(rec["differences"].empty());
  CHECK(rec["ledger_entries"] == 22);

  // Whole years are read from the month rollups, and reconcile checks those too.
  const json years = f.get_json("/v1/stats?" + whole_years())["rows"][0];
  CHECK(years == total);
  const json rec_years = f.get_json("/v1/stats/reconcile?" + whole_years());
  INFO(rec_years.dump());
  CHECK(rec_years["ok"] == true);
  CHECK(rec_years["ledger_entries"] == 22);
}
