// The annual report without Redis: figures constructed here, the compiler's supplied figures and
// their checks, and every output format read back (CSV by a CSV reader, HTML by an XML parser,
// JSON against the required fields of docs/annual-report.schema.json).
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "core/csv.h"
#include "core/report/annual_report.h"
#include "core/report/report_render.h"
#include "core/report/supplied_figures.h"
#include "tests/support/process.h"

namespace herald::report {
namespace {

using nlohmann::json;

// The seed's year: 5 / 1074 / 9 / 2 by category, 46 alerts (filed under work_news), 358 on the
// portal and 46 on Weibo.
YearFigures seed_year() {
  YearFigures y;
  y.year = 2013;
  y.items_by_category = {{"regulation", 5}, {"work_news", 1074}, {"personnel", 9}, {"finance", 2}};
  y.alerts_by_level = {{"caution", 30}, {"reconsider", 12}, {"avoid", 4}};
  y.deliveries_by_channel = {{"portal", 358}, {"weibo", 46}};
  y.items_by_month = {90, 91, 91, 91, 91, 91, 91, 91, 91, 91, 91, 90};
  return y;
}

YearFigures small_year(int year, long long work_news) {
  YearFigures y;
  y.year = year;
  y.items_by_category = {{"work_news", work_news}};
  y.deliveries_by_channel = {{"portal", work_news}};
  y.items_by_month[0] = work_news;
  return y;
}

json seed_supplied() {
  return json::parse(R"({
    "office": "四川省人民政府外事办公室",
    "source": "省外办办公室台账（编制人提供）",
    "requests": {"note": "据不完全统计", "new": 160, "carried_in": 0,
                 "outcomes": {"disclosed": 160}, "carried_over": 0},
    "fees": {"amount_yuan": 0, "note": "依申请公开不收费"},
    "reviews": {"reconsideration": {"upheld": 0, "corrected": 0, "other": 0, "pending": 0},
                "litigation_direct": {"upheld": 0, "corrected": 0, "other": 0, "pending": 0},
                "litigation_after_reconsideration": {"upheld": 0, "corrected": 0, "other": 0, "pending": 0}},
    "periodicals": {"briefings": 36, "magazines": 4},
    "websites": {"items": 1000, "photos": 600, "approximate": true}
  })");
}

json table2_2021() {
  return json::parse(R"({
    "office": "某省外办",
    "requests": {
      "source": "依申请公开登记簿",
      "new": {"natural_person": 10, "commercial": 2, "other_org": 1},
      "carried_in": {"natural_person": 1},
      "outcomes": {
        "disclosed": {"natural_person": 6, "commercial": 1},
        "partly_disclosed": {"natural_person": 1},
        "withheld": {"state_secret": {"natural_person": 1}, "third_party": {"commercial": 1}},
        "unable": {"not_held": {"natural_person": 2}},
        "not_processed": {"duplicate": {"other_org": 1}},
        "other": {"other": {"natural_person": 0}}
      },
      "carried_over": {"natural_person": 1}
    },
    "table1": {"regulations": {"made": 0, "repealed": 0, "in_force": 0},
               "admin_fees": {"fee_amount": 1.25}}
  })");
}

AnnualReport seed_report(bool with_supplied = true) {
  std::optional<SuppliedFigures> supplied;
  if (with_supplied) {
    auto parsed = parse_supplied_figures(seed_supplied(), 2013);
    REQUIRE(parsed.ok());
    supplied = *parsed;
  }
  return build_annual_report(2013, seed_year(), small_year(2012, 1000), supplied, "省外办", 480,
                             "2014-01-20T09:00:00+08:00");
}

const Table& table(const AnnualReport& r, const std::string& id) {
  for (const auto& t : r.tables) {
    if (t.id == id) return t;
  }
  FAIL("no table " << id);
  throw std::logic_error("unreachable");
}

const TableRow& row(const Table& t, const std::string& id) {
  for (const auto& r : t.rows) {
    if (r.id == id) return r;
  }
  FAIL("no row " << id << " in " << t.id);
  throw std::logic_error("unreachable");
}

// --- a minimal JSON Schema check: type, required, properties, items, enum, const, $ref, min/max
// items. Enough for the schema Herald publishes; reports every violation with its path.
bool has_type(const json& v, const std::string& type) {
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "integer") return v.is_number_integer();
  if (type == "number") return v.is_number();
  if (type == "boolean") return v.is_boolean();
  if (type == "null") return v.is_null();
  return false;
}

void check_schema(const json& root, const json& schema, const json& v, const std::string& path,
                  std::vector<std::string>& problems) {
  if (schema.contains("$ref")) {
    const std::string ref = schema["$ref"];
    REQUIRE(ref.rfind("#/$defs/", 0) == 0);
    check_schema(root, root["$defs"][ref.substr(8)], v, path, problems);
    return;
  }
  if (schema.contains("type")) {
    bool ok = false;
    if (schema["type"].is_array()) {
      for (const auto& t : schema["type"]) ok = ok || has_type(v, t.get<std::string>());
    } else {
      ok = has_type(v, schema["type"].get<std::string>());
    }
    if (!ok) {
      problems.push_back(path + ": wrong type, got " + v.dump().substr(0, 40));
      return;
    }
  }
  if (schema.contains("const") && v != schema["const"])
    problems.push_back(path + ": not the const");
  if (schema.contains("enum")) {
    bool found = false;
    for (const auto& e : schema["enum"]) found = found || e == v;
    if (!found) problems.push_back(path + ": not in enum: " + v.dump());
  }
  if (v.is_object()) {
    const json required = schema.value("required", json::array());
    for (const auto& key : required) {
      if (!v.contains(key.get<std::string>()))
        problems.push_back(path + ": missing " + key.get<std::string>());
    }
    const json properties = schema.value("properties", json::object());
    for (const auto& [key, sub] : properties.items()) {
      if (v.contains(key)) check_schema(root, sub, v[key], path + "." + key, problems);
    }
  }
  if (v.is_array()) {
    if (schema.contains("minItems") && v.size() < schema["minItems"].get<std::size_t>()) {
      problems.push_back(path + ": too few items");
    }
    if (schema.contains("maxItems") && v.size() > schema["maxItems"].get<std::size_t>()) {
      problems.push_back(path + ": too many items");
    }
    if (schema.contains("items")) {
      for (std::size_t i = 0; i < v.size(); ++i) {
        check_schema(root, schema["items"], v[i], path + "[" + std::to_string(i) + "]", problems);
      }
    }
  }
}

json load_schema() {
  std::ifstream in(std::string(HERALD_SOURCE_DIR) + "/docs/annual-report.schema.json");
  REQUIRE(in.good());
  return json::parse(in);
}

// --- XML well-formedness, small and strict: balanced tags, quoted attributes, no entity beyond
// XML's five and numeric ones, nothing after the root. xmllint, when installed, checks too.
std::string xml_problem(const std::string& doc) {
  std::vector<std::string> stack;
  std::size_t i = 0;
  bool root_closed = false;
  auto name_at = [&](std::size_t& p) {
    const std::size_t start = p;
    while (p < doc.size() && (std::isalnum(static_cast<unsigned char>(doc[p])) || doc[p] == '-' ||
                              doc[p] == ':' || doc[p] == '_')) {
      ++p;
    }
    return doc.substr(start, p - start);
  };
  while (i < doc.size()) {
    if (doc[i] == '&') {
      const std::size_t semi = doc.find(';', i);
      if (semi == std::string::npos) return "unterminated entity at " + std::to_string(i);
      const std::string ent = doc.substr(i + 1, semi - i - 1);
      if (ent != "amp" && ent != "lt" && ent != "gt" && ent != "quot" && ent != "apos" &&
          (ent.empty() || ent[0] != '#')) {
        return "entity &" + ent + "; is not XML";
      }
      i = semi + 1;
      continue;
    }
    if (doc[i] != '<') {
      if (root_closed && !std::isspace(static_cast<unsigned char>(doc[i])))
        return "text after root";
      ++i;
      continue;
    }
    if (doc.compare(i, 9, "<!DOCTYPE") == 0) {
      i = doc.find('>', i) + 1;
      continue;
    }
    if (doc.compare(i, 4, "<!--") == 0) {
      i = doc.find("-->", i) + 3;
      continue;
    }
    if (doc.compare(i, 2, "</") == 0) {
      std::size_t p = i + 2;
      const std::string name = name_at(p);
      if (stack.empty() || stack.back() != name) return "unbalanced </" + name + ">";
      stack.pop_back();
      if (stack.empty()) root_closed = true;
      i = doc.find('>', p) + 1;
      continue;
    }
    std::size_t p = i + 1;
    const std::string name = name_at(p);
    if (name.empty()) return "bad tag at " + std::to_string(i);
    if (root_closed) return "second root <" + name + ">";
    // Attributes: name="value" (no '<' inside values).
    while (p < doc.size() && doc[p] != '>' && doc.compare(p, 2, "/>") != 0) {
      if (std::isspace(static_cast<unsigned char>(doc[p]))) {
        ++p;
        continue;
      }
      const std::string attr = name_at(p);
      if (attr.empty() || p >= doc.size() || doc[p] != '=' ||
          (doc[p + 1] != '"' && doc[p + 1] != '\'')) {
        return "bad attribute in <" + name + "> at " + std::to_string(p);
      }
      const char quote = doc[p + 1];
      const std::size_t end = doc.find(quote, p + 2);
      if (doc.substr(p + 2, end - p - 2).find('<') != std::string::npos) return "'<' in attribute";
      p = end + 1;
    }
    if (doc.compare(p, 2, "/>") == 0) {
      i = p + 2;
      continue;
    }
    stack.push_back(name);
    i = p + 1;
    if (name == "style") {  // raw text: no markup in our CSS
      const std::size_t end = doc.find("</style>", i);
      if (doc.substr(i, end - i).find_first_of("<&") != std::string::npos)
        return "markup in <style>";
      i = end;
    }
  }
  if (!stack.empty()) return "unclosed <" + stack.back() + ">";
  return "";
}

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = test::make_temp_dir("report") + "/" + name;
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("shares are printed with one decimal and totals are the sums of their parts",
          "[report]") {
  SECTION("shares round half up in integer arithmetic") {
    CHECK(share_text(1074, 1090) == "98.5%");
    CHECK(share_text(5, 1090) == "0.5%");
    CHECK(share_text(9, 1090) == "0.8%");
    CHECK(share_text(2, 1090) == "0.2%");
    CHECK(share_text(1, 8) == "12.5%");  // exactly half: up
    CHECK(share_text(1, 3) == "33.3%");
    CHECK(share_text(0, 0) == "—");
  }
  SECTION("the change against the year before says which way and by how much") {
    CHECK(change_text(1090, 1000, "条") == "增加90条（增长9.0%）");
    CHECK(change_text(900, 1000, "条") == "减少100条（下降10.0%）");
    CHECK(change_text(5, 5, "条") == "持平");
    CHECK(change_text(46, 0, "条次") == "增加46条次");  // no rate against a known zero
  }
  SECTION("the seed year's total is 1090, the sum of its categories, not a separate 1094") {
    const AnnualReport r = seed_report();
    CHECK(r.current.items() == 1090);
    const Table& t = table(r, "items_by_category");
    CHECK(row(t, "total").cells[0].number == 1090);
    CHECK(row(t, "total").is_total);
    CHECK(row(t, "work_news").cells[1].text == "98.5%");
    CHECK(row(t, "alerts").cells[0].number == 46);
    CHECK(row(table(r, "deliveries_by_channel"), "total").cells[0].number == 404);
    CHECK(r.warnings.empty());
  }
  SECTION("the prose follows the seed: total, each category with its share, alerts, channels") {
    const std::string& text = seed_report().active_disclosure_text;
    CHECK_THAT(text,
               Catch::Contains(
                   "2013年累计主动公开政府信息1090条，其中，法规公文类5条，占0.5%；"
                   "工作动态类1074条，占98.5%；人事信息类9条，占0.8%；财政信息类2条，占0.2%。"));
    CHECK_THAT(text, Catch::Contains(
                         "全年发布海外安全提醒46条（注意安全30条，谨慎前往12条，暂勿前往4条）"));
    CHECK_THAT(text, Catch::Contains(
                         "上年（2012年）主动公开政府信息1000条，本年比上年增加90条（增长9.0%）"));
    CHECK_THAT(text, Catch::Contains("政府门户网站发布信息358条次"));
    CHECK_THAT(text, Catch::Contains("政务微博发布信息46条次"));
    CHECK_THAT(text, Catch::Contains("各渠道合计404条次"));
  }
  SECTION("counters that disagree with each other are reported, not hidden") {
    YearFigures y = seed_year();
    y.items_by_month[0] += 4;  // 1094 by month against 1090 by category
    const AnnualReport r = build_annual_report(2013, y, {}, std::nullopt, "x", 480, "t");
    REQUIRE(r.warnings.size() == 1);
    CHECK_THAT(r.warnings[0], Catch::Contains("1094") && Catch::Contains("1090"));
  }
  SECTION("overseas_safety is printed only when a year has some; the seed's four always") {
    const AnnualReport seed = seed_report(false);
    for (const auto& r : table(seed, "items_by_category").rows) CHECK(r.id != "overseas_safety");
    YearFigures y = small_year(2022, 3);
    y.items_by_category["overseas_safety"] = 2;
    const CategoryMap as_filed{{}};  // every Herald category printed as itself
    const AnnualReport later =
        build_annual_report(2022, y, {}, std::nullopt, "x", 480, "t", "", as_filed);
    CHECK(row(table(later, "items_by_category"), "overseas_safety").label == "海外安全提醒");
    CHECK(row(table(later, "items_by_category"), "regulation").cells[0].number == 0);
    CHECK(row(table(later, "items_by_category"), "total").cells[0].number == 5);
  }
}

TEST_CASE("the format follows the year: free-form to 2018, the 2019 trial, then 2021", "[report]") {
  CHECK(template_for_year(2013) == ReportTemplate::freeform_2008);
  CHECK(template_for_year(2018) == ReportTemplate::freeform_2008);
  CHECK(template_for_year(2019) == ReportTemplate::trial_2019);
  CHECK(template_for_year(2020) == ReportTemplate::trial_2019);
  CHECK(template_for_year(2021) == ReportTemplate::national_2021);

  SECTION("2013 has the supplied figures in one table and no national tables") {
    const AnnualReport r = seed_report();
    CHECK(row(table(r, "supplied"), "periodicals.briefings").cells[0].number == 36);
    CHECK(row(table(r, "supplied"), "requests.handled").cells[0].number == 160);
    for (const auto& t : r.tables) CHECK(t.id != "table2");
  }
  SECTION("2021 prints tables 1-3, blank cells as blank, computed totals") {
    auto supplied = parse_supplied_figures(table2_2021(), 2021);
    REQUIRE(supplied.ok());
    const AnnualReport r = build_annual_report(2021, small_year(2021, 10), small_year(2020, 8),
                                               *supplied, "x", 480, "t");
    const Table& t2 = table(r, "table2");
    CHECK(row(t2, "new").cells[0].number == 10);
    CHECK(row(t2, "new").cells[2].type == Cell::Type::blank);  // 科研机构: not supplied
    CHECK(row(t2, "new").cells[6].number == 13);               // 总计 computed
    CHECK(row(t2, "outcomes.total").cells[6].number == 13);
    CHECK(row(t2, "outcomes.total").cells[0].number == 10);
    CHECK(row(t2, "outcomes.other.overdue_correction").cells[6].type == Cell::Type::blank);
    CHECK(t2.has_blank());
    const Table& t1 = table(r, "table1");
    CHECK(row(t1, "admin_fees").cells[4].text == "1.25");
    CHECK(row(t1, "licensing").cells[3].type == Cell::Type::blank);
    CHECK(row(t1, "licensing").cells[0].text == "/");
    const Table& t3 = table(r, "table3");
    CHECK(row(t3, "reconsideration").cells[4].type == Cell::Type::blank);
  }
  SECTION("2019 prints (六)其他处理 as one row") {
    json figures = table2_2021();
    figures.erase("table1");  // its cells are the 2021 columns
    auto supplied = parse_supplied_figures(figures, 2020);
    REQUIRE(supplied.ok());
    const AnnualReport r = build_annual_report(2020, {}, {}, *supplied, "x", 480, "t");
    const Table& t2 = table(r, "table2");
    CHECK(row(t2, "outcomes.other").cells[6].number == 0);
    for (const auto& rr : t2.rows) CHECK(rr.id.rfind("outcomes.other.", 0) != 0);
  }
}

TEST_CASE("supplied figures are validated: unknown keys, bad numbers and the table 2 check",
          "[report]") {
  SECTION("the seed's figures and a split 2021 table are accepted") {
    CHECK(parse_supplied_figures(seed_supplied(), 2013).ok());
    CHECK(parse_supplied_figures(table2_2021(), 2021).ok());
  }
  SECTION("an unknown key is refused with its path") {
    json j = table2_2021();
    j["requests"]["outcomes"]["withheld"]["secret"] = 1;
    auto r = parse_supplied_figures(j, 2021);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().field == "requests.outcomes.withheld.secret");
    j = seed_supplied();
    j["periodical"] = 1;
    r = parse_supplied_figures(j, 2013);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().field == "periodical");
  }
  SECTION("a total is never entered: it is computed") {
    json j = table2_2021();
    j["requests"]["new"]["total"] = 13;
    auto r = parse_supplied_figures(j, 2021);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().field == "requests.new.total");
  }
  SECTION("一 + 二 = 三(七) + 四 must hold in the 总计 column") {
    json j = seed_supplied();
    j["requests"]["outcomes"]["disclosed"] = 150;
    auto r = parse_supplied_figures(j, 2013);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "check_failed");
    CHECK(r.error().field == "requests");
    CHECK_THAT(r.error().message, Catch::Contains("160 + 0 ≠ 150 + 0"));
    j["requests"]["carried_over"] = 10;
    CHECK(parse_supplied_figures(j, 2013).ok());
  }
  SECTION("and in every applicant column when the rows are split") {
    json j = table2_2021();
    // Same 总计 (13 + 1 = 13 + 1), but a request moved from 商业企业 to 自然人 in the outcomes.
    j["requests"]["outcomes"]["disclosed"] = {{"natural_person", 7}};
    auto r = parse_supplied_figures(j, 2021);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "check_failed");
    CHECK_THAT(r.error().message, Catch::Contains("natural_person"));
  }
  SECTION("rows the check needs are required") {
    json j = seed_supplied();
    j["requests"].erase("carried_over");
    auto r = parse_supplied_figures(j, 2013);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().field == "requests.carried_over");
  }
  SECTION("negative or fractional counts and money beyond fen are refused") {
    json j = seed_supplied();
    j["periodicals"]["briefings"] = -1;
    CHECK(parse_supplied_figures(j, 2013).error().field == "periodicals.briefings");
    j = seed_supplied();
    j["requests"]["new"] = 160.5;
    CHECK_FALSE(parse_supplied_figures(j, 2013).ok());
    j = seed_supplied();
    j["fees"]["amount_yuan"] = 1.005;
    CHECK(parse_supplied_figures(j, 2013).error().field == "fees.amount_yuan");
  }
  SECTION("table 1 is checked against the year's format") {
    json j = table2_2021();
    CHECK(parse_supplied_figures(j, 2013).error().field == "table1");
    j["table1"]["licensing"] = {{"made", 1}};  // 行政许可 has no 本年制发件数 column
    CHECK(parse_supplied_figures(j, 2021).error().field == "table1.licensing.made");
  }
}

TEST_CASE("every output format reads back to the same figures", "[report]") {
  const AnnualReport r = seed_report();

  SECTION("CSV: an RFC 4180 reader gets one record per table cell, with the figures") {
    const std::string csv = render_csv(r);
    auto parsed = parse_csv(csv);
    REQUIRE(parsed.ok());
    std::vector<std::vector<std::string>> records;
    for (const auto& rec : *parsed) records.push_back(rec.fields);
    REQUIRE(records.size() > 10);
    CHECK(records[0] == std::vector<std::string>{"table", "row", "row_label", "column",
                                                 "column_label", "value", "source"});
    std::map<std::string, std::string> values;
    for (std::size_t i = 1; i < records.size(); ++i) {
      REQUIRE(records[i].size() == 7);
      values[records[i][0] + "/" + records[i][1] + "/" + records[i][3]] = records[i][5];
    }
    CHECK(values["items_by_category/total/items"] == "1090");
    CHECK(values["items_by_category/work_news/share"] == "98.5%");
    CHECK(values["items_by_category/alerts/items"] == "46");
    CHECK(values["deliveries_by_channel/portal/deliveries"] == "358");
    CHECK(values["deliveries_by_channel/weibo/deliveries"] == "46");
    CHECK(values["supplied/websites.items/value"] == "1000余");  // a bound, never a bare 1000
    // A row id and label with a comma, quotes and a line break survive the round trip.
    YearFigures odd = seed_year();
    odd.items_by_category["odd, \"quoted\"\nline"] = 1;
    const std::string odd_csv =
        render_csv(build_annual_report(2013, odd, {}, std::nullopt, "x", 480, "t"));
    auto odd_parsed = parse_csv(odd_csv);
    REQUIRE(odd_parsed.ok());
    bool found = false;
    for (const auto& rec : *odd_parsed) {
      if (rec.fields.size() == 7 && rec.fields[1] == "odd, \"quoted\"\nline" &&
          rec.fields[3] == "items") {
        found = rec.fields[5] == "1";
      }
    }
    CHECK(found);
    // Supplied text that a spreadsheet would run is written as text.
    YearFigures formula = seed_year();
    formula.items_by_category["=HYPERLINK(\"http://evil\")"] = 1;
    const std::string formula_csv =
        render_csv(build_annual_report(2013, formula, {}, std::nullopt, "x", 480, "t"));
    CHECK(formula_csv.find(",=HYPERLINK") == std::string::npos);
    CHECK(formula_csv.find(",\"=HYPERLINK") == std::string::npos);
    CHECK(formula_csv.find("'=HYPERLINK") != std::string::npos);
  }
  SECTION("HTML: well-formed XML (XHTML-compatible), with both charts and the tables") {
    const std::string html = render_html(r);
    CHECK(xml_problem(html) == "");
    CHECK(xml_problem("<p><b>x</p></b>") != "");  // the checker itself can fail
    CHECK(xml_problem("<p>&nbsp;</p>") != "");
    CHECK_THAT(html, Catch::Contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    CHECK_THAT(html, Catch::Contains("aria-label=\"各月主动公开信息数\""));
    CHECK_THAT(html, Catch::Contains("aria-label=\"各渠道发布条次\""));
    CHECK_THAT(html, Catch::Contains("<meta charset=\"UTF-8\"/>"));
    CHECK_THAT(html, Catch::Contains("占98.5%"));
    if (std::ifstream("/usr/bin/xmllint").good()) {
      const std::string path = write_temp("report.xhtml", html);
      auto p = test::ChildProcess::spawn({"/usr/bin/xmllint", "--noout", path}, {}, path + ".log");
      const auto code = p.wait(std::chrono::seconds(30));
      REQUIRE(code.has_value());
      CHECK(*code == 0);
    }
  }
  SECTION("HTML escapes what it prints") {
    const AnnualReport odd =
        build_annual_report(2013, seed_year(), {}, std::nullopt, "A&B <办公室>", 480, "t");
    const std::string html = render_html(odd);
    CHECK(xml_problem(html) == "");
    CHECK_THAT(html, Catch::Contains("A&amp;B &lt;办公室&gt;"));
  }
  SECTION("JSON: valid against the required fields and types of the published schema") {
    const json schema = load_schema();
    const json doc = render_json(r);
    std::vector<std::string> problems;
    check_schema(schema, schema, doc, "$", problems);
    CHECK(problems.empty());
    for (const auto& p : problems) UNSCOPED_INFO(p);
    CHECK(doc["figures"]["current"]["items"]["total"] == 1090);
    CHECK(doc["supplied"]["periodicals"]["briefings"] == 36);
    // The checker itself catches a missing field.
    json broken = doc;
    broken["figures"]["current"].erase("items");
    problems.clear();
    check_schema(schema, schema, broken, "$", problems);
    CHECK_FALSE(problems.empty());
  }
  SECTION("Markdown: tables with the figures and the blank legend where cells are blank") {
    const std::string md = render_markdown(r);
    CHECK_THAT(md, Catch::Contains("| **合计** | 1090 | 100.0% | 1000 | 90 |"));
    auto supplied = parse_supplied_figures(table2_2021(), 2021);
    REQUIRE(supplied.ok());
    const std::string md2021 =
        render_markdown(build_annual_report(2021, {}, {}, *supplied, "x", 480, "t"));
    CHECK_THAT(md2021, Catch::Contains(kBlankLegend));
  }
}

}  // namespace herald::report

namespace herald::report {
namespace {

// The seed's figures as a compiler supplies them now: the approximate 160余件, the texts of 概述
// and 问题与改进, the original's 1094 against its categories' 1090, and no figures for 2012.
json seed_supplied_in_full() {
  json j = seed_supplied();
  j["requests"]["new"] = {{"value", 160}, {"approx", "余"}};
  j["requests"]["outcomes"]["disclosed"] = {{"value", 160}, {"approx", "余"}};
  j["fees"]["note"] = "我办政府信息公开事项均未收费。";
  j["overview"] = "加强组织领导。\n\n加强制度完善。";
  j["improvements"] = "一是提高思想认识。";
  j["reconciliation"] = {{"reported_items", 1094},
                         {"note", "原报告的分类数字保持不变，差额无法追溯。"}};
  j["notes"] = json::array({{{"placement", "forms"}, {"text", "微博于2013年下半年开通。"}}});
  return j;
}

AnnualReport seed_report_in_full(const json& supplied_json, YearFigures previous = {}) {
  auto parsed = parse_supplied_figures(supplied_json, 2013);
  REQUIRE(parsed.ok());
  YearFigures current = seed_year();
  current.deliveries_by_channel["website"] = 1090;
  return build_annual_report(2013, current, previous, *parsed, "省外办", 480,
                             "2014-01-20T09:00:00+08:00");
}

std::size_t position(const std::string& text, const std::string& part) {
  const std::size_t at = text.find(part);
  INFO(part);
  CHECK(at != std::string::npos);
  return at;
}

}  // namespace

TEST_CASE("a year Herald has no data for prints — with the reason, never 0", "[report]") {
  const AnnualReport r = seed_report_in_full(seed_supplied_in_full());
  CHECK_FALSE(r.previous.known());
  const Table& items = table(r, "items_by_category");
  CHECK(items.columns[2] == "2012年（条）");
  CHECK(row(items, "total").cells[2].type == Cell::Type::blank);
  CHECK(row(items, "total").cells[3].type == Cell::Type::blank);
  CHECK(row(items, "work_news").cells[2].display() == "—");
  CHECK(row(table(r, "deliveries_by_channel"), "portal").cells[1].type == Cell::Type::blank);
  CHECK(row(table(r, "items_by_month"), "1").cells[1].type == Cell::Type::blank);
  bool reason = false;
  for (const auto& n : items.notes) reason = reason || n.find("2012年无数据") == 0;
  CHECK(reason);
  CHECK_THAT(r.active_disclosure_text, Catch::Contains("上年（2012年）无可比数据"));
  for (const std::string& out : {render_markdown(r), render_html(r)}) {
    CHECK(out.find("上年为0") == std::string::npos);
    CHECK(out.find("（上年0条次") == std::string::npos);
    CHECK(out.find("增加1090条") == std::string::npos);
  }
  CHECK(render_json(r)["tables"][0]["rows"][4]["cells"][2].is_null());
}

TEST_CASE("the compiler may supply a year's figures, printed as supplied", "[report]") {
  json j = seed_supplied_in_full();
  j["years"] = {{"2012",
                 {{"source", "2012年年度报告"},
                  {"items_by_category", {{"regulation", 4}, {"work_news", 990}}},
                  {"alerts", 40},
                  {"deliveries_by_channel", {{"portal", 300}}}}}};
  const AnnualReport r = seed_report_in_full(j);
  CHECK(r.previous.origin == YearFigures::Origin::supplied);
  const Table& items = table(r, "items_by_category");
  CHECK(items.columns[2] == "2012年（条，编制人提供）");
  CHECK(row(items, "total").cells[2].number == 994);
  CHECK(row(items, "total").cells[3].number == 96);
  CHECK(row(items, "alerts").cells[2].number == 40);
  CHECK(row(table(r, "deliveries_by_channel"), "portal").cells[1].number == 300);
  // A supplied year has no months and no correction counters: blank, not 0.
  CHECK(row(table(r, "items_by_month"), "1").cells[1].type == Cell::Type::blank);
  CHECK(row(table(r, "corrections_retractions"), "retracted").cells[1].type == Cell::Type::blank);
  CHECK_THAT(r.active_disclosure_text,
             Catch::Contains("上年（2012年，编制人提供（2012年年度报告））主动公开政府信息994条，"
                             "本年比上年增加96条（增长9.7%）"));
  // Herald's own count wins over a supplied one for a year it counted.
  j["years"]["2013"] = j["years"]["2012"];
  CHECK(seed_report_in_full(j).current.origin == YearFigures::Origin::herald);
  // A key that is not a year is refused with its path.
  j["years"] = {{"last", json::object()}};
  CHECK(parse_supplied_figures(j, 2013).error().field == "years.last");
}

TEST_CASE("retractions and corrections are counted in 条 and in 条次, each labelled", "[report]") {
  YearFigures y = seed_year();
  y.retracted = 4;  // one alert retracted on four channels
  y.retracted_items = 1;
  y.corrected = 2;
  const AnnualReport r = build_annual_report(2013, y, {}, std::nullopt, "x", 480, "t");
  const Table& t = table(r, "corrections_retractions");
  CHECK(row(t, "retracted").label == "撤回（条次）");
  CHECK(row(t, "retracted").cells[0].number == 4);
  CHECK(row(t, "retracted_items").label == "撤回（条）");
  CHECK(row(t, "retracted_items").cells[0].number == 1);
  CHECK(row(t, "corrected_items").cells[0].type == Cell::Type::blank);  // not counted
  CHECK_THAT(r.active_disclosure_text, Catch::Contains("另有更正2条次，撤回1条、4条次"));
  CHECK(r.active_disclosure_text.find("撤回4条，") == std::string::npos);
}

TEST_CASE("supplied figures may be approximate, and notes go where the compiler says", "[report]") {
  const AnnualReport r = seed_report_in_full(seed_supplied_in_full());
  CHECK_THAT(r.requests_text, Catch::Contains("据不完全统计，全年新收政府信息公开申请160余件"));
  CHECK_THAT(r.requests_text, Catch::Contains("本年办结160余件"));
  CHECK_THAT(r.active_disclosure_text,
             Catch::Contains("本单位网站共发布信息1000余条，照片600余张"));
  CHECK_THAT(r.active_disclosure_text, Catch::Contains("全年印发简报36期，杂志4期"));
  CHECK_THAT(r.active_disclosure_text, Catch::Contains("微博于2013年下半年开通。"));
  CHECK_THAT(r.active_disclosure_text,
             Catch::Contains("原报告所列主动公开信息总数为1094条，各类别之和为1090条，相差4条；"
                             "本报告的合计取各类别之和1090条。"));
  const json doc = render_json(r);
  CHECK(doc["supplied"]["requests"]["rows"]["new"]["approx"] == "余");
  CHECK(doc["supplied"]["websites"]["items"]["approx"] == "余");
  CHECK(doc["supplied"]["reconciliation"]["reported_items"] == 1094);
  SECTION("an unknown approximation or placement is refused") {
    json j = seed_supplied_in_full();
    j["periodicals"]["briefings"] = {{"value", 36}, {"approx", "about"}};
    CHECK(parse_supplied_figures(j, 2013).error().field == "periodicals.briefings.approx");
    j = seed_supplied_in_full();
    j["notes"][0]["placement"] = "footer";
    CHECK(parse_supplied_figures(j, 2013).error().field == "notes[0].placement");
  }
  SECTION("the fee sentence is said once") {
    const std::string& text = r.requests_text;
    const std::string sentence = "政府信息公开事项均未收费";
    const std::size_t first = text.find(sentence);
    REQUIRE(first != std::string::npos);
    CHECK(text.find(sentence, first + 1) == std::string::npos);
  }
}

TEST_CASE("a supplied and a counted figure that differ raise a warning, which can be acknowledged",
          "[report]") {
  json j = seed_supplied_in_full();
  const AnnualReport open = seed_report_in_full(j);
  REQUIRE(open.warnings.size() == 1);
  CHECK_THAT(open.warnings[0], Catch::Contains("1000余条") && Catch::Contains("1090条次"));
  CHECK(render_json(open)["checks"][0]["id"] == "websites.items");
  CHECK(render_json(open)["checks"][0]["acknowledged"] == false);
  CHECK_THAT(render_html(open), Catch::Contains("<p class=\"warning\">请核对：本单位网站"));
  CHECK_THAT(render_markdown(open), Catch::Contains("> **请核对：** 本单位网站"));

  j["acknowledged"] = json::array(
      {{{"warning", "websites.items"}, {"reason", "三个网站含未经本系统发布的市州动态"}}});
  const AnnualReport acked = seed_report_in_full(j);
  CHECK(acked.warnings.empty());
  REQUIRE(acked.checks.size() == 1);
  CHECK(acked.checks[0].acknowledged);
  const std::string html = render_html(acked);
  CHECK(html.find("class=\"warning\"") == std::string::npos);
  CHECK_THAT(html, Catch::Contains("已核对：本单位网站"));
  CHECK_THAT(html, Catch::Contains("编制人说明：三个网站含未经本系统发布的市州动态"));
  CHECK(render_json(acked)["warnings"].empty());
  CHECK(render_json(acked)["checks"][0]["reason"] == "三个网站含未经本系统发布的市州动态");

  SECTION("an acknowledgement needs a reason") {
    j["acknowledged"][0]["reason"] = "";
    CHECK(parse_supplied_figures(j, 2013).error().field == "acknowledged[0].reason");
  }
  SECTION("equal exact figures raise nothing") {
    j["websites"]["items"] = 1090;
    j["websites"].erase("approximate");
    j.erase("acknowledged");
    CHECK(seed_report_in_full(j).checks.empty());
  }
}

TEST_CASE("the report follows the seed's sections, with no in-house words", "[report]") {
  const AnnualReport r = seed_report_in_full(seed_supplied_in_full());
  std::vector<std::string> ids;
  for (const auto& s : r.sections) ids.push_back(s.id);
  CHECK(ids == std::vector<std::string>{"overview", "active", "content", "forms", "requests",
                                        "fees", "reviews", "improvements", "annex"});
  const std::vector<std::string> headings = {"一、概述",
                                             "加强组织领导。",
                                             "二、主动公开政府信息情况",
                                             "（一）公开内容",
                                             "（二）公开形式",
                                             "本单位网站共发布信息1000余条",
                                             "全年印发简报36期",
                                             "各渠道发布情况",
                                             "三、政府信息依申请公开情况",
                                             "四、政府信息公开收费及减免情况",
                                             "五、公开申请行政复议、提起行政诉讼的情况",
                                             "六、存在的主要问题和改进措施",
                                             "一是提高思想认识。"};
  for (const std::string& out : {render_markdown(r), render_html(r)}) {
    std::size_t last = 0;
    for (const auto& h : headings) {
      const std::size_t at = position(out, h);
      INFO(h);
      CHECK(at > last);
      last = at;
    }
    for (const char* word :
         {"kind=alert", "exercise", "2008-freeform", "2014-01-20T09:00", "Herald", "上年为0"}) {
      INFO(word);
      CHECK(out.find(word) == std::string::npos);
    }
  }
  const std::string html = render_html(r);
  CHECK(xml_problem(html) == "");
  CHECK_THAT(html, Catch::Contains("<td class=\"words\">"));  // the source column, left-aligned
  CHECK_THAT(html, Catch::Contains("thead { display: table-header-group; }"));
  CHECK_THAT(html, Catch::Contains("counter(page)"));
  CHECK_THAT(html, Catch::Contains("size: A4"));
  // Alerts are filed under 工作动态 by default, so the seed's four categories are all there is.
  YearFigures y = seed_year();
  y.items_by_category["work_news"] -= 46;
  y.items_by_category["overseas_safety"] = 46;
  const AnnualReport mapped = build_annual_report(2013, y, {}, std::nullopt, "x", 480, "t");
  CHECK(row(table(mapped, "items_by_category"), "work_news").cells[0].number == 1074);
  for (const auto& rr : table(mapped, "items_by_category").rows) CHECK(rr.id != "overseas_safety");
  bool noted = false;
  for (const auto& rule : mapped.counting_rules) {
    noted = noted || rule.find("工作动态类含海外安全提醒") != std::string::npos;
  }
  CHECK(noted);
}

}  // namespace herald::report
