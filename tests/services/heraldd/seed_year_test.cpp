// The replay of the seed's year (../shared/seed/): a synthetic 2013 with the figures of the
// Sichuan foreign affairs office's 2013 report is imported through POST /v1/imports, and the
// annual report must show exactly those figures, with shares and totals computed, so the
// original's 1090-against-1094 cannot happen.
//
// With HERALD_SEED_OUT_DIR set, the CSV and the report in every format are also written there
// (for docs/report-2013.*; see docs/annual-report.md).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>

#include "core/clock.h"
#include "core/csv.h"
#include "core/digest.h"
#include "tests/support/herald_processes.h"
#include "tests/support/redis_server.h"

namespace herald::test {
namespace {

using nlohmann::json;

constexpr const char* kCompilerToken = "compiler-token";

// The seed's figures: 5 法规公文类, 1074 工作动态类, 9 人事信息类, 2 财政信息类; 46 海外预警信息
// (filed as 工作动态, the office's 2013 categories had no alert category); 358 reported to the
// "中国四川" portal; 46 on the Weibo account opened in the second half of the year. Every item is
// on the office's own website ("website", the report's 三个网站 1000余条).
struct SeedItem {
  std::string published_at;
  std::string category;
  std::string kind;
  std::string level;
  std::vector<std::string> channels;
  std::string title;
};

std::string two(int n) {
  return (n < 10 ? "0" : "") + std::to_string(n);
}

// Day `d` (0-based) of 2013 as "2013-mm-dd".
std::string day_of_2013(int d) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int m = 0;
  while (d >= kDays[m]) d -= kDays[m++];
  return "2013-" + two(m + 1) + "-" + two(d + 1);
}

std::vector<SeedItem> seed_items() {
  std::vector<std::string> categories;
  categories.insert(categories.end(), 5, "regulation");
  categories.insert(categories.end(), 1074, "work_news");
  categories.insert(categories.end(), 9, "personnel");
  categories.insert(categories.end(), 2, "finance");
  const int n = static_cast<int>(categories.size());  // 1090
  // Spread over the year by a stride coprime with n, so every category is spread too.
  std::vector<SeedItem> items;
  int alerts = 0, weibo = 0, portal = 0;
  for (int i = 0; i < n; ++i) {
    const int slot = static_cast<int>((static_cast<long long>(i) * 347) % n);
    const int day = slot * 365 / n;
    SeedItem item;
    // The first and last moments of the year in Beijing time belong to 2013.
    if (slot == 0) {
      item.published_at = "2013-01-01T00:00:00+08:00";
    } else if (slot == n - 1) {
      item.published_at = "2013-12-31T23:59:59+08:00";
    } else {
      item.published_at =
          day_of_2013(day) + "T" + two(8 + slot % 10) + ":" + two(slot % 60) + ":00+08:00";
    }
    item.category = categories[i];
    item.channels = {"website"};
    if (item.category == "work_news" && alerts < 46 && slot % 23 == 0) {
      item.kind = "alert";
      item.level = alerts % 8 == 0 ? "avoid" : alerts % 3 == 0 ? "reconsider" : "caution";
      ++alerts;
    } else {
      item.kind = "publication";
    }
    if (portal < 358 && slot % 3 == 0) {
      item.channels.push_back("portal");
      ++portal;
    }
    if (weibo < 46 && day >= 181 && slot % 7 == 1) {  // from July
      item.channels.push_back("weibo");
      ++weibo;
    }
    item.title = "2013年" + std::string(item.kind == "alert" ? "海外安全提醒" : "省外办信息") +
                 "第" + std::to_string(i + 1) + "条";
    items.push_back(item);
  }
  REQUIRE(alerts == 46);
  REQUIRE(portal == 358);
  REQUIRE(weibo == 46);
  return items;
}

std::string seed_csv(const std::vector<SeedItem>& items) {
  std::string csv = csv_line(
      {"published_at", "category", "kind", "level", "channels", "title", "link", "remote_ids"});
  int n = 0;
  for (const auto& item : items) {
    std::string channels, remote_ids;
    for (const auto& ch : item.channels) {
      channels += (channels.empty() ? "" : ";") + ch;
      remote_ids +=
          (remote_ids.empty() ? "" : ";") + ch + "=" + ch + "-2013-" + std::to_string(++n);
    }
    csv += csv_line({item.published_at, item.category, item.kind, item.level, channels, item.title,
                     "http://www.scfao.gov.cn/2013/" + std::to_string(n) + ".html", remote_ids});
  }
  return csv;
}

json seed_supplied() {
  return json::parse(R"({
    "office": "四川省人民政府外事办公室",
    "source": "省外办2013年工作台账（编制人提供）",
    "requests": {"note": "据不完全统计", "new": 160, "carried_in": 0,
                 "outcomes": {"disclosed": 160}, "carried_over": 0},
    "fees": {"amount_yuan": 0},
    "reviews": {"reconsideration": {"upheld": 0, "corrected": 0, "other": 0, "pending": 0},
                "litigation_direct": {"upheld": 0, "corrected": 0, "other": 0, "pending": 0},
                "litigation_after_reconsideration": {"upheld": 0, "corrected": 0, "other": 0, "pending": 0}},
    "periodicals": {"briefings": 36, "magazines": 4},
    "websites": {"items": 1000, "photos": 600, "approximate": true}
  })");
}

// The compiler's figures as the seed gives them: 160余件, the texts of 概述 and 问题与改进,
// the original's 1094 against its categories' 1090, and the fee sentence in the office's words.
json seed_supplied_in_full() {
  json j = seed_supplied();
  j["requests"]["new"] = {{"value", 160}, {"approx", "余"}};
  j["requests"]["outcomes"]["disclosed"] = {{"value", 160}, {"approx", "余"}};
  j["fees"]["note"] = "我办政府信息公开事项均未收费。";
  j["overview"] =
      "加强组织领导。2013年为进一步加强我办政务公开和信息工作，办政务公开领导小组及时出台了"
      "《省外办2013年度信息工作目标任务及分解调整意见》。\n\n"
      "加强制度完善。严格按照两级审核、备案制度，对外发布的信息严禁涉及国家秘密事项。";
  j["improvements"] =
      "2013年我办在政府信息公开方面做了大量的工作，但在信息公开内容的及时性以及公开载体的多样性"
      "上与社会公众的需求还存在一定的差距。\n\n一是提高思想认识，严格信息公开工作审批制度。"
      "\n\n二是不断创新政府信息公开方式，进一步加强微博、微信等现代公开平台的建设和维护。";
  j["reconciliation"] = {{"reported_items", 1094},
                         {"note", "原报告未列出差额的来源；本报告按类别重新统计，不作调整。"}};
  j["notes"] =
      json::array({{{"placement", "forms"}, {"text", "“四川外事”政务微博于2013年下半年开通。"}}});
  return j;
}

void keep(const std::string& name, const std::string& text) {
  if (const char* dir = std::getenv("HERALD_SEED_OUT_DIR"))
    std::ofstream(std::string(dir) + "/" + name) << text;
}

const json& row_of(const json& table, const std::string& id) {
  for (const auto& r : table["rows"]) {
    if (r["id"] == id) return r;
  }
  FAIL("no row " << id << " in " << table["id"]);
  throw std::logic_error("unreachable");
}

const json& table_of(const json& report, const std::string& id) {
  for (const auto& t : report["tables"]) {
    if (t["id"] == id) return t;
  }
  FAIL("no table " << id);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("the seed's year, imported, reports exactly the seed's figures with totals that add up",
          "[report][seed]") {
  auto sim = start_sim();
  const std::string dir = make_temp_dir("seed-year");
  json config = test_config(unique_key_prefix("seed"), sim.url);
  config["office"] = {{"name", "四川省人民政府外事办公室"}};
  // 2013's website, portal and Weibo: the office's channels before Herald.
  config["import"]["historic_channels"] = {"website", "portal", "weibo"};
  // The report's categories as the seed files them (alerts under 工作动态), from the config.
  config["report"]["categories"] = {{"work_news", {"work_news", "overseas_safety"}}};
  config["auth"]["users"].push_back({{"name", "compiler"},
                                     {"roles", {"compiler"}},
                                     {"token_sha256", sha256_hex(kCompilerToken)}});
  auto heraldd = start_heraldd(config, dir);
  INFO("heraldd log: " << read_file(heraldd.log_path));

  const std::string csv = seed_csv(seed_items());
  keep("seed-2013.csv", csv);
  auto imported = http("POST", heraldd.url + "/v1/imports", kCompilerToken, csv,
                       {{"Content-Type", "text/csv"}});
  INFO(imported.body);
  REQUIRE(imported.status == 200);
  CHECK(json_of(imported)["new_items"] == 1090);

  const std::string report_url = heraldd.url + "/v1/reports/annual?year=2013";

  SECTION("JSON: the seed's categories, alerts and channels; total and shares computed") {
    auto r = http("GET", report_url + "&format=json", kCompilerToken);
    REQUIRE(r.status == 200);
    CHECK(r.header("content-type").rfind("application/json", 0) == 0);
    keep("report-2013.json", r.body);
    const json doc = json_of(r);
    const json& now = doc["figures"]["current"];
    std::map<std::string, long long> by_category;
    for (const auto& c : now["items"]["by_category"]) by_category[c["category"]] = c["items"];
    CHECK(by_category ==
          std::map<std::string, long long>{
              {"regulation", 5}, {"work_news", 1074}, {"personnel", 9}, {"finance", 2}});
    bool mapped = false;
    for (const auto& rule : doc["counting_rules"]) {
      mapped =
          mapped || rule.get<std::string>().find("工作动态类含海外安全提醒") != std::string::npos;
    }
    CHECK(mapped);
    CHECK(now["items"]["total"] == 1090);  // the sum: the seed's 1094 cannot be printed
    CHECK(now["alerts"]["total"] == 46);
    std::map<std::string, long long> by_channel;
    for (const auto& c : now["deliveries"]["by_channel"])
      by_channel[c["channel"]] = c["deliveries"];
    CHECK(by_channel["portal"] == 358);
    CHECK(by_channel["weibo"] == 46);
    CHECK(by_channel["website"] == 1090);
    CHECK(now["deliveries"]["total"] == 1090 + 358 + 46);
    long long months = 0;
    for (const auto& m : now["items_by_month"]) months += m.get<long long>();
    CHECK(months == 1090);
    CHECK(now["items_by_month"][0].get<long long>() > 0);
    CHECK(now["items_by_month"][6].get<long long>() > 0);
    CHECK(doc["warnings"].empty());
    CHECK(doc["template"] == "2008-freeform");
    CHECK(doc["office"] == "四川省人民政府外事办公室");
    const json& t = table_of(doc, "items_by_category");
    CHECK(row_of(t, "work_news")["cells"][1] == "98.5%");
    CHECK(row_of(t, "regulation")["cells"][1] == "0.5%");
    CHECK(row_of(t, "total")["cells"][0] == 1090);
    CHECK(row_of(t, "total")["is_total"] == true);
    CHECK(row_of(t, "alerts")["cells"][0] == 46);
    const std::string text = doc["text"]["active_disclosure"];
    CHECK_THAT(text,
               Catch::Contains(
                   "2013年累计主动公开政府信息1090条，其中，法规公文类5条，占0.5%；"
                   "工作动态类1074条，占98.5%；人事信息类9条，占0.8%；财政信息类2条，占0.2%。"));
    CHECK_THAT(text, Catch::Contains("全年发布海外安全提醒46条"));
    CHECK_THAT(text, Catch::Contains("政府门户网站发布信息358条次"));
    CHECK_THAT(text, Catch::Contains("政务微博发布信息46条次"));
  }
  SECTION("the years around it are empty: 00:00 on 1 Jan and 23:59:59 on 31 Dec are 2013") {
    for (const char* year : {"2012", "2014"}) {
      auto r = http("GET", heraldd.url + "/v1/reports/annual?year=" + year, kCompilerToken);
      REQUIRE(r.status == 200);
      CHECK(json_of(r)["figures"]["current"]["items"]["total"] == 0);
    }
    auto next = json_of(http("GET", heraldd.url + "/v1/reports/annual?year=2014", kCompilerToken));
    CHECK(next["figures"]["previous"]["items"]["total"] == 1090);
    CHECK(next["figures"]["current"]["origin"] == "none");
    CHECK_THAT(next["text"]["active_disclosure"].get<std::string>(),
               Catch::Contains("2014年无主动公开数据"));
    // 2013 has no year before it: "—" and the reason, never 0.
    auto seed = json_of(http("GET", report_url, kCompilerToken));
    CHECK(seed["figures"]["previous"]["origin"] == "none");
    CHECK(row_of(table_of(seed, "items_by_category"), "total")["cells"][2].is_null());
    CHECK_THAT(seed["text"]["active_disclosure"].get<std::string>(),
               Catch::Contains("上年（2012年）无可比数据"));
  }
  SECTION("every format: Content-Type, and the figures in each") {
    auto md = http("GET", report_url + "&format=md", kCompilerToken);
    REQUIRE(md.status == 200);
    CHECK(md.header("content-type") == "text/markdown; charset=utf-8");
    CHECK_THAT(md.body, Catch::Contains("| **合计** | 1090 | 100.0% | — | — |"));
    CHECK(md.body.find("上年为0") == std::string::npos);
    keep("report-2013.md", md.body);

    auto csv_report = http("GET", report_url + "&format=csv", kCompilerToken);
    REQUIRE(csv_report.status == 200);
    CHECK(csv_report.header("content-type").rfind("text/csv", 0) == 0);
    auto records = parse_csv(csv_report.body);
    REQUIRE(records.ok());
    std::map<std::string, std::string> values;
    for (const auto& rec : *records) {
      REQUIRE(rec.fields.size() == 7);
      values[rec.fields[0] + "/" + rec.fields[1] + "/" + rec.fields[3]] = rec.fields[5];
    }
    CHECK(values["items_by_category/total/items"] == "1090");
    CHECK(values["items_by_category/finance/items"] == "2");
    CHECK(values["deliveries_by_channel/portal/deliveries"] == "358");
    CHECK(values["deliveries_by_channel/weibo/deliveries"] == "46");

    auto html = http("GET", report_url + "&format=html", kCompilerToken);
    REQUIRE(html.status == 200);
    CHECK(html.header("content-type") == "text/html; charset=utf-8");
    CHECK_THAT(html.body, Catch::Contains("工作动态类1074条，占98.5%"));
    CHECK_THAT(html.body, Catch::Contains("<svg"));
    keep("report-2013-herald-only.html", html.body);
  }
  SECTION("supplied figures are checked, then shown with their source") {
    auto r = http("POST", report_url + "&format=html", kCompilerToken, seed_supplied().dump(),
                  {{"Content-Type", "application/json"}});
    REQUIRE(r.status == 200);
    CHECK_THAT(r.body,
               Catch::Contains(
                   "全年印发简报36期，杂志4期（编制人提供：省外办2013年工作台账（编制人提供））"));
    CHECK_THAT(r.body, Catch::Contains("办结率100.0%"));
    keep("report-2013-supplied-minimal.html", r.body);
    // As heraldctl sends them: wrapped, with the year and format repeated.
    const json wrapped = {{"year", 2013}, {"format", "json"}, {"supplied", seed_supplied()}};
    auto j = http("POST", report_url + "&format=json", kCompilerToken, wrapped.dump(),
                  {{"Content-Type", "application/json"}});
    REQUIRE(j.status == 200);
    CHECK(json_of(j)["supplied"]["periodicals"]["magazines"] == 4);
    keep("report-2013-supplied.json", j.body);
    json wrong_year = wrapped;
    wrong_year["year"] = 2014;
    CHECK(http("POST", report_url + "&format=json", kCompilerToken, wrong_year.dump(),
               {{"Content-Type", "application/json"}})
              .status == 422);
    json wrapped_bad = wrapped;
    wrapped_bad["supplied"]["fees"]["amount"] = 1;
    auto wb = http("POST", report_url + "&format=json", kCompilerToken, wrapped_bad.dump(),
                   {{"Content-Type", "application/json"}});
    CHECK(wb.status == 422);
    CHECK(json_of(wb)["error"]["field"] == "supplied.fees.amount");

    json bad = seed_supplied();
    bad["requests"]["outcomes"]["disclosed"] = 150;
    auto refused = http("POST", report_url, kCompilerToken, bad.dump(),
                        {{"Content-Type", "application/json"}});
    CHECK(refused.status == 422);
    CHECK(json_of(refused)["error"]["code"] == "check_failed");
    CHECK(json_of(refused)["error"]["field"] == "requests");

    bad = seed_supplied();
    bad["periodicals"]["journals"] = 4;
    refused = http("POST", report_url, kCompilerToken, bad.dump(),
                   {{"Content-Type", "application/json"}});
    CHECK(refused.status == 422);
    CHECK(json_of(refused)["error"]["field"] == "periodicals.journals");
  }
  SECTION("the seed's document, line by line, from the import and the compiler's figures") {
    auto r = http("POST", report_url + "&format=html", kCompilerToken,
                  seed_supplied_in_full().dump(), {{"Content-Type", "application/json"}});
    REQUIRE(r.status == 200);
    keep("report-2013.html", r.body);
    // Each line of the seed (in its order) and what the report must say for it (in the same
    // order): headings, every figure with its unit, the 1094/1090 note and 160余件.
    const std::vector<std::pair<const char*, const char*>> lines = {
        {"概述", "一、概述"},
        {"加強組織領導", "加强组织领导"},
        {"主動公開政府信息情況", "二、主动公开政府信息情况"},
        {"累計主動公開政府信息1094條", "2013年累计主动公开政府信息1090条"},
        {"法規公文類5條", "法规公文类5条，占0.5%"},
        {"工作動態類1074條，占98%", "工作动态类1074条，占98.5%"},
        {"人事信息類9條", "人事信息类9条，占0.8%"},
        {"財政信息2條", "财政信息类2条，占0.2%"},
        {"(1094, categories 1090)",
         "原报告所列主动公开信息总数为1094条，各类别之和为1090条，相差4条"},
        {"公開內容", "（一）公开内容"},
        {"發布海外預警信息46條", "全年发布海外安全提醒46条"},
        {"政策法規信息5條", "全年新增和变更政策法规信息5条"},
        {"公開形式", "（二）公开形式"},
        {"上報信息358條", "政府门户网站发布信息358条次"},
        {"微博信息46條", "政务微博发布信息46条次"},
        {"1000餘條，照片600餘張", "本单位网站共发布信息1000余条，照片600余张"},
        {"簡報共36期…雜誌4期", "全年印发简报36期，杂志4期"},
        {"政府信息依申請公開情況", "三、政府信息依申请公开情况"},
        {"160餘件。辦結率100%", "全年新收政府信息公开申请160余件"},
        {"辦結率100%", "办结率100.0%"},
        {"政府信息公開收費及減免情況", "四、政府信息公开收费及减免情况"},
        {"均未收費", "我办政府信息公开事项均未收费"},
        {"行政複議、提起行政訴訟的情況", "五、公开申请行政复议、提起行政诉讼的情况"},
        {"均為零件", "被申请行政复议0件，被提起行政诉讼0件"},
        {"存在的主要問題和改進措施", "六、存在的主要问题和改进措施"},
        {"一是提高思想認識", "一是提高思想认识"},
    };
    std::size_t last = 0;
    for (const auto& [seed_line, report_line] : lines) {
      INFO("seed: " << seed_line << " → report: " << report_line);
      const std::size_t at = r.body.find(report_line, last);
      CHECK(at != std::string::npos);
      if (at != std::string::npos) last = at;
    }
    CHECK(r.body.find("上年为0") == std::string::npos);
    CHECK(r.body.find("政府信息公开事项均未收费", r.body.find("政府信息公开事项均未收费") + 1) ==
          std::string::npos);
    // Herald counted the website channel (1090 条次) and the compiler says 1000余条: a warning,
    // in the page, in the JSON and in the header, until it is acknowledged with a reason.
    CHECK_THAT(r.body, Catch::Contains("<p class=\"warning\">请核对：本单位网站发布信息"));
    CHECK(r.header("herald-report-warnings") == "1");
    auto j = http("POST", report_url + "&format=json", kCompilerToken,
                  seed_supplied_in_full().dump(), {{"Content-Type", "application/json"}});
    REQUIRE(j.status == 200);
    CHECK(json_of(j)["warnings"].size() == 1);
    CHECK(json_of(j)["checks"][0]["id"] == "websites.items");
    json acked = seed_supplied_in_full();
    acked["acknowledged"] = json::array(
        {{{"warning", "websites.items"},
          {"reason", "三个网站的1000余条含市州外事动态，未经本系统发布；本系统条次含转载"}}});
    auto a = http("POST", report_url + "&format=html", kCompilerToken, acked.dump(),
                  {{"Content-Type", "application/json"}});
    REQUIRE(a.status == 200);
    CHECK(a.header("herald-report-warnings") == "0");
    CHECK(a.body.find("class=\"warning\"") == std::string::npos);
    CHECK_THAT(a.body, Catch::Contains("已核对：本单位网站发布信息"));
    keep("report-2013-acknowledged.html", a.body);
  }
  SECTION("the dry run shows the splits a compiler checks against the paper report") {
    auto dry = http("POST", heraldd.url + "/v1/imports?dry_run=true", kCompilerToken, csv,
                    {{"Content-Type", "text/csv"}});
    REQUIRE(dry.status == 200);
    const json d = json_of(dry);
    CHECK(d["items_by_category"] ==
          json{{"regulation", 5}, {"work_news", 1074}, {"personnel", 9}, {"finance", 2}});
    CHECK(d["items_by_kind"] == json{{"alert", 46}, {"publication", 1044}});
    long long alerts = 0;
    for (const auto& [level, n] : d["alerts_by_level"].items()) alerts += n.get<long long>();
    CHECK(alerts == 46);
    CHECK(d["channels_in_file"] == json{{"portal", 358}, {"weibo", 46}, {"website", 1090}});
  }
  SECTION("import refusals: a channel typo gets a suggestion; ',' and ';' both separate") {
    const std::string header = "published_at,category,kind,level,channels,title,link,remote_ids\n";
    auto import = [&](const std::string& row) {
      return http("POST", heraldd.url + "/v1/imports?dry_run=true", kCompilerToken, header + row,
                  {{"Content-Type", "text/csv"}});
    };
    auto typo = import("2012-03-01T09:00:00+08:00,work_news,publication,,weibp;portal,t,,\n");
    CHECK(typo.status == 422);
    CHECK_THAT(typo.body, Catch::Contains("unknown channel \\\"weibp\\\" (did you mean "
                                          "\\\"weibo\\\"?)"));
    auto comma = import(
        "2012-03-01T09:00:00+08:00,work_news,publication,,\"weibo,portal\",t,,"
        "\"weibo=1,portal=2\"\n");
    INFO(comma.body);
    CHECK(comma.status == 200);
    CHECK(json_of(comma)["deliveries"] == 2);
    auto unknown = import("2012-03-01T09:00:00+08:00,work_news,publication,,fax,t,,\n");
    CHECK(unknown.status == 422);
    CHECK(unknown.body.find("did you mean") == std::string::npos);  // nothing close to "fax"
    auto none = import("2012-03-01T09:00:00+08:00,work_news,publication,,,t,,\n");
    CHECK(none.status == 422);
    CHECK_THAT(none.body, Catch::Contains("separated by ';' or ','"));
    auto twice = import("2012-03-01T09:00:00+08:00,work_news,publication,,\"weibo;weibo\",t,,\n");
    CHECK(twice.status == 422);
    CHECK_THAT(twice.body, Catch::Contains("named twice"));
  }
  SECTION("only compilers and admins read it; the year and format are checked") {
    CHECK(http("GET", report_url, "").status == 401);
    CHECK(http("GET", report_url, kDutyToken).status == 403);
    CHECK(http("GET", report_url, kAdminToken).status == 200);
    CHECK(http("GET", heraldd.url + "/v1/reports/annual", kCompilerToken).status == 422);
    auto bad_year = http("GET", heraldd.url + "/v1/reports/annual?year=13", kCompilerToken);
    CHECK(bad_year.status == 422);
    CHECK(json_of(bad_year)["error"]["field"] == "year");
    CHECK(http("GET", report_url + "&format=pdf", kCompilerToken).status == 422);
    CHECK(http("POST", report_url, kCompilerToken, "{}", {{"Content-Type", "text/plain"}}).status ==
          415);
    CHECK(http("DELETE", report_url, kCompilerToken).status == 405);
  }
}

}  // namespace herald::test
