// Statistics: GET /v1/stats (the pre-aggregated counters, JSON or CSV), GET /v1/stats/reconcile
// (counters against the delivery ledger, or with against=platforms the ledger against what each
// platform holds, see platform_reconciler.h) and POST /v1/imports (historic records from CSV,
// with a dry run). Roles compiler and admin.
#pragma once

#include <set>
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
  // `import_channels`: the channel names an import may name (the enabled channels and
  // import.historic_channels).
  StatsRoutes(RedisPool& redis, const StatsStore& stats, const Clock& clock,
              PlatformReconciler* platforms = nullptr, std::set<std::string> import_channels = {})
      : redis_(redis),
        stats_(stats),
        clock_(clock),
        platforms_(platforms),
        import_channels_(std::move(import_channels)) {}

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
  std::set<std::string> import_channels_;
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
// rows are good (records) or the problems, in row order (at most `max_problems`). Rows are held
// to the item API's rules where they apply (category, kind, link, title text); a channel must be
// one of `known_channels`; a date must lie in a year before the current one in the office's zone.
struct ParsedImport {
  std::vector<ImportRecord> records;
  std::vector<ImportProblem> problems;
};
ParsedImport parse_import_csv(const std::string& text, int utc_offset_minutes, TimePoint now,
                              const std::set<std::string>& known_channels,
                              std::size_t max_problems = 100);

}  // namespace herald
