// The annual open-government-information report (政府信息公开工作年度报告): Herald's own counts for
// a year and the year before, the figures a compiler supplies by hand, and the tables of the format
// that applies to the year. Pure data and arithmetic: no Redis, no I/O (see report_render.h).
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/report/supplied_figures.h"

namespace herald::report {

// The report's format is chosen by year: the old free-form report (up to 2018), the 2019 trial
// format (国办公开办函〔2019〕60号, reports for 2019 and 2020) and the 2021 format (〔2021〕30号).
enum class ReportTemplate { freeform_2008, trial_2019, national_2021 };
ReportTemplate template_for_year(int year);
const char* to_string(ReportTemplate t);  // "2008-freeform", "2019-trial", "2021"

// Herald's counts for one calendar year in the office's time zone.
//
// Every item has exactly one category, so the category figures partition the items and the
// total is their sum (there is no separately stored total that could disagree, as the seed's
// 1094 against 1090 did). Alerts (kind "alert") are not a fifth partition: an alert is counted in
// the category it was filed under (overseas_safety for a new alert, work_news for the 2013
// office, which had no alert category), and the report gives "其中海外安全提醒 N 条" beside.
struct YearFigures {
  // Where the figures come from: Herald's counters, the compiler (a year before Herald), or
  // nowhere (printed as "—" with the reason, never as 0).
  enum class Origin { herald, supplied, none };
  int year = 0;
  Origin origin = Origin::herald;
  std::string source;                                  // for supplied figures: who supplied them
  std::map<std::string, long long> items_by_category;  // category id → items
  std::map<std::string, long long> alerts_by_level;    // "caution" | "reconsider" | "avoid" | ""
  std::map<std::string, long long> deliveries_by_channel;
  std::array<long long, 12> items_by_month{};  // January first
  long long retracted = 0;  // retraction deliveries (条次: one per channel withdrawn from)
  long long corrected = 0;  // correction deliveries (条次)
  long long failed = 0;
  // The distinct items retracted or corrected (条); unknown when the counters cannot tell.
  std::optional<long long> retracted_items;
  std::optional<long long> corrected_items;

  bool known() const { return origin != Origin::none; }
  // Nothing at all was counted: Herald did not run that year.
  bool counted_nothing() const;

  long long items() const;       // sum of items_by_category
  long long alerts() const;      // sum of alerts_by_level
  long long deliveries() const;  // sum of deliveries_by_channel
  long long items_by_month_sum() const;
};

// Which Herald categories each report category includes, so that a year's figures stay
// comparable with the office's earlier reports (the seed files alerts under 工作动态). A Herald
// category no entry names is printed as itself.
struct CategoryMap {
  std::vector<std::pair<std::string, std::vector<std::string>>> includes;

  std::string report_category(const std::string& herald_category) const;
};
// The seed's: 工作动态 includes overseas_safety.
CategoryMap default_category_map();

// A check the report makes on its own figures: open, or acknowledged by the compiler with a reason.
struct ReportWarning {
  std::string id;  // "websites.items", "months.2013"
  std::string text;
  bool acknowledged = false;
  std::string reason;
};

// One heading of the report with its paragraphs and the tables printed under it.
struct Section {
  std::string id;       // "overview", "active", "content", "forms", "requests", ...
  std::string heading;  // "一、概述", "（一）公开内容"
  int level = 2;        // 2 for 一、二、…, 3 for （一）（二）
  std::vector<std::string> paragraphs;
  std::vector<std::string> tables;  // table ids
};

// One cell of a table: a figure, a text, or blank (no data: printed as such, never as 0).
struct Cell {
  enum class Type { blank, number, text };
  Type type = Type::blank;
  long long number = 0;
  std::string text;

  static Cell blank() { return {}; }
  static Cell of(long long n) { return {Type::number, n, {}}; }
  static Cell of(const std::optional<long long>& n) { return n ? of(*n) : blank(); }
  static Cell of_text(std::string t) { return {Type::text, 0, std::move(t)}; }
  // "1094" for numbers, the text, or kBlankMark.
  std::string display() const;
};

// What a blank cell shows, and the legend under every table that has one.
inline constexpr const char* kBlankMark = "—";
inline constexpr const char* kBlankLegend =
    "“—”表示无此项数据（本系统不统计且编制人未提供），不是0。";

struct TableRow {
  std::string id;     // stable, for CSV and JSON readers: "regulation", "outcomes.disclosed"
  std::string label;  // as printed: "法规公文类", "（一）予以公开"
  std::vector<Cell> cells;
  bool is_total = false;  // a computed sum of the rows above it
};

struct Table {
  std::string id;      // "items_by_category", "table2", ...
  std::string title;   // "表二  收到和处理政府信息公开申请情况"
  std::string source;  // "herald" | "supplied" | "herald+supplied"
  std::vector<std::string> column_ids;
  std::vector<std::string> columns;  // printed headers; the row label column is not included
  std::vector<TableRow> rows;
  std::vector<std::string> notes;  // what the totals count, where figures come from

  bool has_blank() const;
};

struct AnnualReport {
  int year = 0;
  ReportTemplate format = ReportTemplate::freeform_2008;
  std::string office;        // from the supplied figures, else from the caller
  std::string time_zone;     // "+08:00"
  std::string generated_at;  // RFC 3339
  YearFigures current;
  YearFigures previous;  // year - 1
  std::optional<SuppliedFigures> supplied;
  std::vector<std::string> counting_rules;  // the lines saying what each total counts
  std::string active_disclosure_text;       // 主动公开政府信息情况, in the seed's style
  std::string requests_text;                // 依申请公开 and the rest, from supplied figures
  std::vector<Table> tables;
  std::vector<Section> sections;  // in the seed's order
  // The texts of the open checks (e.g. counters that disagree with each other).
  std::vector<std::string> warnings;
  std::vector<ReportWarning> checks;  // every check, open or acknowledged
  // The day ("yyyy-mm-dd") the last reconciliation against the platforms came back clean, or ""
  // when none has.
  std::string platforms_reconciled_on;
};

// Assembles the report: prose, tables (by template), warnings. `office` is used when the supplied
// figures name none. `generated_at` is passed in so the output is reproducible in tests.
// `platforms_reconciled_on`: see AnnualReport.
AnnualReport build_annual_report(int year, YearFigures current, YearFigures previous,
                                 std::optional<SuppliedFigures> supplied, std::string office,
                                 int utc_offset_minutes, std::string generated_at,
                                 std::string platforms_reconciled_on = "",
                                 const CategoryMap& categories = default_category_map());

// Labels.
std::string category_label(const std::string& category);  // "work_news" → "工作动态类"
std::string channel_label(const std::string& channel);    // "portal" → "政府门户网站"
// The order categories are printed in: the seed's four, then overseas_safety, then others.
std::vector<std::string> ordered_categories(const YearFigures& a, const YearFigures& b);

// A share of a whole as printed in the report: one decimal, rounded half up in integer
// arithmetic ("98.5%"); "—" for an empty whole.
std::string share_text(long long part, long long whole);
// Change against the year before: "增加16条（增长1.5%）", "减少3条（下降0.2%）", "持平",
// "增加46条次" (no rate against a zero); see also change_cell_text for an unknown year.
std::string change_text(long long now, long long before, const std::string& unit);
// "1094": a count as printed.
std::string count_text(long long n);

}  // namespace herald::report
