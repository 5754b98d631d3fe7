// Statistics: GET /v1/stats (the pre-aggregated counters, JSON or CSV), GET /v1/stats/reconcile
// (counters against the delivery ledger, or with against=platforms the ledger against what each
// platform holds, see platform_reconciler.h) and POST /v1/imports (historic records from CSV,
// with a dry run). Roles compiler and admin.
#pragma once

#include <string>

#include "core/clock.h"
#include "queue/redis.h"
#include "queue/stats_store.h"
#include "services/heraldd/platform_reconciler.h"
#include "services/heraldd/routes.h"

namespace herald {

class StatsRoutes : public RouteGroup {
 public:
  // `platforms` answers against=platforms; null → that is refused as not available.
  StatsRoutes(RedisPool& redis, const StatsStore& stats, const Clock& clock,
              PlatformReconciler* platforms = nullptr)
      : redis_(redis), stats_(stats), clock_(clock), platforms_(platforms) {}

  std::optional<ServerResponse> handle(const ServerRequest& request, const AuthUser* user) override;

 private:
  ServerResponse stats(const ServerRequest& request);
  ServerResponse reconcile(const ServerRequest& request, const AuthUser& user);
  ServerResponse reconcile_platforms(const ServerRequest& request, const AuthUser& user);
  ServerResponse import(const ServerRequest& request, const AuthUser& user);

  RedisPool& redis_;
  const StatsStore& stats_;
  const Clock& clock_;
  PlatformReconciler* platforms_;
};

// One invalid cell of an import file.
struct ImportProblem {
  int row = 0;         // 1-based data row (the header is row 0)
  int line = 0;        // line of the file the row starts on
  std::string column;  // the header's name of the column, or "" for the row as a whole
  std::string message;
};

// Reads an import file (RFC 4180, header row required: published_at, category, kind, level,
// channels, title, link, remote_ids in any order) into records, checking every row; either all
// rows are good (records) or the problems, in row order (at most `max_problems`).
struct ParsedImport {
  std::vector<ImportRecord> records;
  std::vector<ImportProblem> problems;
};
ParsedImport parse_import_csv(const std::string& text, int utc_offset_minutes, TimePoint now,
                              std::size_t max_problems = 100);

}  // namespace herald
