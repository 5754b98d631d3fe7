// Renderers of the annual report: JSON (schema in docs/annual-report.schema.json), Markdown, CSV
// (RFC 4180, one record per table cell) and HTML (printable, XHTML-compatible, with inline SVG
// charts drawn here).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/markup.h"
#include "core/report/annual_report.h"

namespace herald::report {

enum class ReportFormat { json, md, html, csv };
std::optional<ReportFormat> report_format_from_string(std::string_view text);
// "application/json", "text/markdown; charset=utf-8", "text/html; charset=utf-8",
// "text/csv; charset=utf-8; header=present"
const char* content_type(ReportFormat format);

// The "$id" of docs/annual-report.schema.json, written into every JSON report as "schema".
inline constexpr const char* kReportSchemaId =
    "https://herald.example/schemas/annual-report-1.json";

nlohmann::json render_json(const AnnualReport& report);
std::string render_markdown(const AnnualReport& report);
// Header "table,row,row_label,column,column_label,value,source"; value is the number without
// separators, the text, or "" for a blank cell. The prose is not in the CSV.
std::string render_csv(const AnnualReport& report);
std::string render_html(const AnnualReport& report);
std::string render(const AnnualReport& report, ReportFormat format);

}  // namespace herald::report
