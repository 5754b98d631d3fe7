// The annual report: GET /v1/reports/annual?year=YYYY&format=json|md|html|csv from Herald's
// counters alone, and POST with the compiler's supplied figures (JSON body, see
// docs/annual-report.md) to have them checked and shown beside Herald's. Roles compiler, admin.
#pragma once

#include <string>

#include "core/clock.h"
#include "core/report/annual_report.h"
#include "queue/platform_ledger.h"
#include "queue/redis.h"
#include "queue/stats_store.h"
#include "services/heraldd/routes.h"

namespace herald {

class ReportRoutes : public RouteGroup {
 public:
  ReportRoutes(RedisPool& redis, std::string key_prefix, int utc_offset_minutes,
               std::string office_name, const Clock& clock,
               report::CategoryMap categories = report::default_category_map())
      : redis_(redis),
        stats_(key_prefix, utc_offset_minutes),
        ledger_(std::move(key_prefix), utc_offset_minutes),
        utc_offset_minutes_(utc_offset_minutes),
        office_name_(std::move(office_name)),
        clock_(clock),
        categories_(std::move(categories)) {}

  std::optional<ServerResponse> handle(const ServerRequest& request, const AuthUser* user) override;

 private:
  ServerResponse annual(const ServerRequest& request);

  RedisPool& redis_;
  StatsStore stats_;
  PlatformLedger ledger_;  // the last clean reconciliation against the platforms
  int utc_offset_minutes_;
  std::string office_name_;
  const Clock& clock_;
  report::CategoryMap categories_;  // report.categories, or the seed's
};

// Herald's figures for one calendar year, read from the pre-aggregated counters (three grouped
// queries: by category/kind/level, by channel, by month).
Result<report::YearFigures> read_year_figures(RedisConnection& conn, const StatsStore& stats,
                                              int year);

}  // namespace herald
