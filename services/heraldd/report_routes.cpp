#include "services/heraldd/report_routes.h"

#include <cstdlib>

#include "core/item.h"
#include "core/json_fields.h"
#include "core/report/report_render.h"

namespace herald {
namespace {

constexpr const char* kPath = "/v1/reports/annual";

std::optional<int> parse_year(const std::string& text) {
  if (text.size() != 4) return std::nullopt;
  int year = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    year = year * 10 + (c - '0');
  }
  if (year < 1990 || year > 2999) return std::nullopt;
  return year;
}

}  // namespace

Result<report::YearFigures> read_year_figures(RedisConnection& conn, const StatsStore& stats,
                                              int year) {
  report::YearFigures y;
  y.year = year;
  const std::string from = std::to_string(year) + "-01-01", to = std::to_string(year) + "-12-31";

  auto by_category = stats.query(conn, {from, to, {"category", "kind", "level"}});
  if (!by_category) return by_category.error();
  for (const auto& row : *by_category) {
    if (row.items == 0) continue;
    y.items_by_category[row.group.at("category")] += row.items;
    if (row.group.at("kind") == "alert") y.alerts_by_level[row.group.at("level")] += row.items;
  }

  // Each delivery is on exactly one channel: the channel rows' sums are the year's totals.
  auto by_channel = stats.query(conn, {from, to, {"channel"}});
  if (!by_channel) return by_channel.error();
  for (const auto& row : *by_channel) {
    if (row.deliveries > 0) y.deliveries_by_channel[row.group.at("channel")] += row.deliveries;
    y.failed += row.failed;
    y.retracted += row.retracted;
    y.corrected += row.corrected;
  }

  auto by_month = stats.query(conn, {from, to, {"month"}});
  if (!by_month) return by_month.error();
  for (const auto& row : *by_month) {
    const std::string& month = row.group.at("month");  // "yyyy-mm"
    const int m = month.size() == 7 ? std::atoi(month.c_str() + 5) : 0;
    if (m >= 1 && m <= 12) y.items_by_month[m - 1] += row.items;
  }
  return y;
}

std::optional<ServerResponse> ReportRoutes::handle(const ServerRequest& request,
                                                   const AuthUser* user) {
  if (request.path != kPath) return std::nullopt;
  if (auto refused = require_roles(user, {"compiler", "admin"}, "reading the annual report")) {
    return refused;
  }
  if (request.method != "GET" && request.method != "POST") {
    return method_not_allowed("GET, POST", request.path);
  }
  return annual(request);
}

ServerResponse ReportRoutes::annual(const ServerRequest& request) {
  const auto year_it = request.query.find("year");
  if (year_it == request.query.end()) {
    return ServerResponse::error(422, "validation_failed", "year=YYYY is required", "year");
  }
  const auto year = parse_year(year_it->second);
  if (!year) {
    return ServerResponse::error(422, "validation_failed",
                                 "year must be four digits between 1990 and 2999", "year");
  }
  const auto format_it = request.query.find("format");
  const auto format = report::report_format_from_string(
      format_it == request.query.end() ? "json" : format_it->second);
  if (!format) {
    return ServerResponse::error(422, "validation_failed", "format must be json, md, html or csv",
                                 "format");
  }

  std::optional<report::SuppliedFigures> supplied;
  if (request.method == "POST") {
    if (!is_json_request(request)) return not_json();
    auto body = parse_json_body(request.body);
    if (!body) return error_response(body.error());
    // The figures themselves, or (as heraldctl sends them) wrapped as {"supplied": {...}} with
    // optional "year" and "format" that must agree with the query.
    const nlohmann::json* figures = &*body;
    std::string path_prefix;
    if (body->is_object() && body->contains("supplied")) {
      for (const auto& [key, value] : body->items()) {
        if (key == "supplied") continue;
        const bool agrees = (key == "year" && value == *year) ||
                            (key == "format" && value.is_string() &&
                             value.get<std::string>() ==
                                 (format_it == request.query.end() ? "json" : format_it->second));
        if (!agrees) {
          return ServerResponse::error(
              422, "validation_failed",
              key == "year" || key == "format"
                  ? key + " differs from the query's"
                  : "unknown key '" + key + "' (known: supplied, year, format)",
              key);
        }
      }
      figures = &(*body)["supplied"];
      path_prefix = "supplied.";
    }
    auto parsed = report::parse_supplied_figures(*figures, *year);
    if (!parsed) {
      Error e = parsed.error();
      if (!e.field.empty()) e.field = path_prefix + e.field;
      return error_response(e);
    }
    supplied = std::move(*parsed);
  }

  auto conn = redis_.acquire();
  if (!conn) return error_response(conn.error());
  auto current = read_year_figures(**conn, stats_, *year);
  if (!current) return error_response(current.error());
  auto previous = read_year_figures(**conn, stats_, *year - 1);
  if (!previous) return error_response(previous.error());
  auto reconciled = ledger_.last_clean(**conn);
  if (!reconciled) return error_response(reconciled.error());

  const auto report = report::build_annual_report(
      *year, std::move(*current), std::move(*previous), std::move(supplied), office_name_,
      utc_offset_minutes_,
      format_rfc3339(std::chrono::floor<std::chrono::seconds>(clock_.now()), utc_offset_minutes_),
      *reconciled ? (*reconciled)->on : "", categories_);
  ServerResponse response;
  response.status = 200;
  response.content_type = report::content_type(*format);
  response.body = report::render(report, *format);
  // The open checks travel with every format, so a client that saves the HTML still sees them.
  response.headers.emplace_back("Herald-Report-Warnings", std::to_string(report.warnings.size()));
  const std::string ext = format_it == request.query.end() ? "json" : format_it->second;
  response.headers.emplace_back(
      "Content-Disposition",
      "inline; filename=\"annual-report-" + std::to_string(*year) + "." + ext + "\"");
  return response;
}

}  // namespace herald
