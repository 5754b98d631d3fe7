#include "core/report/report_render.h"

#include "core/csv.h"
#include "core/item.h"

namespace herald::report {
namespace {

using nlohmann::json;

json cell_json(const Cell& c) {
  switch (c.type) {
    case Cell::Type::number:
      return c.number;
    case Cell::Type::text:
      return c.text;
    case Cell::Type::blank:
      break;
  }
  return nullptr;
}

json year_json(const YearFigures& y, const std::vector<std::string>& categories) {
  json by_category = json::array();
  for (const auto& c : categories) {
    const auto it = y.items_by_category.find(c);
    const long long n = it == y.items_by_category.end() ? 0 : it->second;
    by_category.push_back({{"category", c},
                           {"label", category_label(c)},
                           {"items", n},
                           {"share", share_text(n, y.items())}});
  }
  json by_level = json::array();
  for (const auto& [level, n] : y.alerts_by_level) {
    const char* label = alert_level_label(level);
    by_level.push_back({{"level", level}, {"label", label}, {"alerts", n}});
  }
  json by_channel = json::array();
  for (const auto& [channel, n] : y.deliveries_by_channel) {
    by_channel.push_back(
        {{"channel", channel}, {"label", channel_label(channel)}, {"deliveries", n}});
  }
  const char* origin = y.origin == YearFigures::Origin::herald     ? "herald"
                       : y.origin == YearFigures::Origin::supplied ? "supplied"
                                                                   : "none";
  return {{"year", y.year},
          {"origin", origin},
          {"items", {{"total", y.items()}, {"by_category", by_category}}},
          {"alerts", {{"total", y.alerts()}, {"by_level", by_level}}},
          {"deliveries", {{"total", y.deliveries()}, {"by_channel", by_channel}}},
          {"items_by_month", y.items_by_month},
          {"corrected", y.corrected},
          {"retracted", y.retracted},
          {"failed", y.failed}};
}

std::string cell_csv_value(const Cell& c) {
  switch (c.type) {
    case Cell::Type::number:
      return std::to_string(c.number);
    case Cell::Type::text:
      return c.text;
    case Cell::Type::blank:
      break;
  }
  return "";
}

std::string md_escape(const std::string& text) {
  std::string out;
  for (char ch : text) {
    if (ch == '|' || ch == '\\' || ch == '*' || ch == '_') out += '\\';
    out += ch == '\n' ? ' ' : ch;
  }
  return out;
}

json checks_json(const AnnualReport& r) {
  json out = json::array();
  for (const auto& w : r.checks) {
    out.push_back({{"id", w.id},
                   {"text", w.text},
                   {"acknowledged", w.acknowledged},
                   {"reason", w.acknowledged ? json(w.reason) : json(nullptr)}});
  }
  return out;
}

json sections_json(const AnnualReport& r) {
  json out = json::array();
  for (const auto& s : r.sections) {
    out.push_back({{"id", s.id},
                   {"heading", s.heading},
                   {"level", s.level},
                   {"paragraphs", s.paragraphs},
                   {"tables", s.tables}});
  }
  return out;
}

const Table* find_table(const AnnualReport& r, const std::string& id) {
  for (const auto& t : r.tables) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

std::string table_markdown(const Table& t) {
  std::string md = "**" + md_escape(t.title) + "**" +
                   (t.source == "supplied" ? "（编制人提供）" : std::string()) + "\n\n| 项目 |";
  for (const auto& c : t.columns) md += " " + md_escape(c) + " |";
  md += "\n| --- |";
  for (const auto& id : t.column_ids) md += id == "source" ? " --- |" : " ---: |";
  md += "\n";
  for (const auto& row : t.rows) {
    const std::string label = md_escape(row.label);
    md += "| " + (row.is_total ? "**" + label + "**" : label) + " |";
    for (const auto& c : row.cells) md += " " + md_escape(c.display()) + " |";
    md += "\n";
  }
  md += "\n";
  for (const auto& n : t.notes) md += "- " + md_escape(n) + "\n";
  if (t.has_blank()) md += "- " + std::string(kBlankLegend) + "\n";
  return md + "\n";
}

}  // namespace

std::optional<ReportFormat> report_format_from_string(std::string_view text) {
  if (text == "json") return ReportFormat::json;
  if (text == "md") return ReportFormat::md;
  if (text == "html") return ReportFormat::html;
  if (text == "csv") return ReportFormat::csv;
  return std::nullopt;
}

const char* content_type(ReportFormat format) {
  switch (format) {
    case ReportFormat::json:
      return "application/json";
    case ReportFormat::md:
      return "text/markdown; charset=utf-8";
    case ReportFormat::html:
      return "text/html; charset=utf-8";
    case ReportFormat::csv:
      return "text/csv; charset=utf-8; header=present";
  }
  return "application/octet-stream";
}

json render_json(const AnnualReport& r) {
  const auto categories = ordered_categories(r.current, r.previous);
  json tables = json::array();
  for (const auto& t : r.tables) {
    json columns = json::array();
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
      columns.push_back({{"id", t.column_ids[i]}, {"label", t.columns[i]}});
    }
    json rows = json::array();
    for (const auto& row : t.rows) {
      json cells = json::array();
      for (const auto& c : row.cells) cells.push_back(cell_json(c));
      rows.push_back(
          {{"id", row.id}, {"label", row.label}, {"is_total", row.is_total}, {"cells", cells}});
    }
    tables.push_back({{"id", t.id},
                      {"title", t.title},
                      {"source", t.source},
                      {"columns", columns},
                      {"rows", rows},
                      {"notes", t.notes}});
  }
  const std::string y = std::to_string(r.year);
  return {
      {"schema", kReportSchemaId},
      {"year", r.year},
      {"template", to_string(r.format)},
      {"office", r.office},
      {"time_zone", r.time_zone},
      {"period", {{"from", y + "-01-01"}, {"to", y + "-12-31"}}},
      {"generated_at", r.generated_at},
      {"counting_rules", r.counting_rules},
      {"figures",
       {{"source", "herald"},
        {"current", year_json(r.current, categories)},
        {"previous", year_json(r.previous, categories)}}},
      {"supplied", r.supplied ? supplied_to_json(*r.supplied) : json(nullptr)},
      {"text", {{"active_disclosure", r.active_disclosure_text}, {"requests", r.requests_text}}},
      {"tables", tables},
      {"warnings", r.warnings},
      {"checks", checks_json(r)},
      {"sections", sections_json(r)},
      {"platforms_reconciled_on",
       r.platforms_reconciled_on.empty() ? json(nullptr) : json(r.platforms_reconciled_on)}};
}

std::string render_markdown(const AnnualReport& r) {
  const std::string y = std::to_string(r.year);
  std::string md = "# " + y + "年" + r.office + "政府信息公开工作年度报告\n\n";
  for (const auto& w : r.warnings) md += "> **请核对：** " + md_escape(w) + "\n\n";
  for (const auto& s : r.sections) {
    md += std::string(s.level == 2 ? "## " : "### ") + s.heading + "\n\n";
    for (const auto& p : s.paragraphs) md += md_escape(p) + "\n\n";
    for (const auto& id : s.tables) {
      if (const Table* t = find_table(r, id)) md += table_markdown(*t);
    }
  }
  bool any_acknowledged = false;
  for (const auto& w : r.checks) any_acknowledged = any_acknowledged || w.acknowledged;
  if (any_acknowledged) {
    md += "## 数据核对说明\n\n";
    for (const auto& w : r.checks) {
      if (w.acknowledged) {
        md += "- 已核对：" + md_escape(w.text) + " 编制人说明：" + md_escape(w.reason) + "\n";
      }
    }
    md += "\n";
  }
  md += "## 统计口径\n\n";
  for (const auto& rule : r.counting_rules) md += "- " + rule + "\n";
  return md;
}

std::string render_csv(const AnnualReport& r) {
  std::string out =
      csv_line({"table", "row", "row_label", "column", "column_label", "value", "source"});
  for (const auto& t : r.tables) {
    for (const auto& row : t.rows) {
      for (std::size_t i = 0; i < row.cells.size() && i < t.columns.size(); ++i) {
        out += csv_line({t.id, row.id, row.label, t.column_ids[i], t.columns[i],
                         cell_csv_value(row.cells[i]), t.source});
      }
    }
  }
  return out;
}

std::string render(const AnnualReport& report, ReportFormat format) {
  switch (format) {
    case ReportFormat::json:
      return render_json(report).dump(2);
    case ReportFormat::md:
      return render_markdown(report);
    case ReportFormat::html:
      return render_html(report);
    case ReportFormat::csv:
      return render_csv(report);
  }
  return {};
}

}  // namespace herald::report
