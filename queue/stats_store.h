// StatsStore: the pre-aggregated publication counters behind GET /v1/stats and the annual report,
// their reconciliation with the delivery ledger, and the import of historic records.
//
// Counting rules (issue 5 §1; the README says the same):
//  - an item counts once, at its FIRST successful delivery, whatever the number of channels;
//  - each channel counts its own successful deliveries;
//  - corrections (Delivery::kind "correction") and retractions ("retraction") are counted apart,
//    as `corrected` / `retracted` deliveries, and add no items and no deliveries;
//  - drills (Item::status "exercise") never count anywhere (not even as failed);
//  - `failed` counts a delivery once, on the day it first became a dead letter; a later replay or
//    cancel does not take it back (a past year's figure never changes), and a replay that then
//    succeeds counts as a delivery too; only a platform's proof that the delivery was published
//    does (PlatformLedger::settle_dead_letter, a reconciliation's repair);
//  - days, months and years are calendar periods at the office's fixed UTC offset
//    (office.utc_offset_minutes, +08:00 by default): 23:59:59 on 31 Dec Beijing time is that year.
//  - Grouped by "channel", `items` is the number of distinct items published on that channel, each
//    dated by its delivery on that channel (an item has one delivery per channel, so this is the
//    channel's publication/alert deliveries). Without "channel", `items` is per item, dated by its
//    first delivery anywhere; so the channel rows' items add up to more than the total when items
//    go to several channels, by design.
//
// Counter keys (every field is "<yyyy-mm-dd>|<category>|<kind>", plus "|<level>" for an alert
// with a reminder level; <kind> is the tally kind publication|alert|correction|retraction):
//   <p>{<ch>}:tally:<yyyy>    HASH successful deliveries of the channel (DeliveryQueue,
//                             complete.lua)
//   <p>{<ch>}:failed:<yyyy>   HASH dead letters of the channel by the day they died
//   <p>{<ch>}:firstpub        ZSET "<delivery id>|<item id>|<category>|<kind>|<level>" ->
//                             published ms: publications whose item count is not yet settled
//                             (see settle_first_publications; a plain delivery id, as written
//                             before, is settled from its ledger)
//   <p>{items}:stats:<yyyy>   HASH items by the day of their first successful delivery
//   <p>{items}:stats:channels SET every channel that ever had a delivery or an import
//   <hash>:months             HASH the month rollup of each of the three yearly hashes above: the
//                             same fields with the month "<yyyy-mm>" for the day, written in the
//                             same script step as the day counter
//   <p>{items}:stats:month_rollups  STRING set once the rollups of counters older than them exist
// A query of whole months not grouped by day reads the rollups: per channel two hashes of at most
// 12 × categories × kinds × levels fields, plus the items rollup, whatever the number of
// deliveries (the annual report reads a few hundred fields). Other queries read the day hashes
// (at most days × categories × kinds × levels fields actually used). Never the ledger.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "queue/redis.h"

namespace herald {

struct StatsQuery {
  std::string from_day, to_day;       // inclusive "yyyy-mm-dd" in the office time zone
  std::vector<std::string> group_by;  // any of channel, category, kind, level, month, day
};

struct StatsRow {
  // One entry per group_by name: "channel" → "weibo", "month" → "2013-07", "day" → "2013-07-01",
  // "level" → "" for a delivery or item without a reminder level.
  std::map<std::string, std::string> group;
  long long items = 0;       // items first published in the period, counted once
  long long deliveries = 0;  // successful deliveries (publication and alert kinds)
  long long failed = 0;      // dead-lettered deliveries
  long long retracted = 0;   // successful retraction deliveries (withdrawn from a channel)
  long long corrected = 0;   // successful correction deliveries
};

// The group_by names StatsQuery accepts, in the order rows are sorted when all are used.
inline const std::vector<std::string>& stats_group_names() {
  static const std::vector<std::string> kNames = {"channel", "category", "kind",
                                                  "level",   "month",    "day"};
  return kNames;
}

// One counter whose value differs from what the ledger says it should be.
struct StatsDifference {
  std::string counter;  // "items", "deliveries" (tally), "failed"
  std::string channel;  // "" for items
  std::string field;    // "<day>|<category>|<kind>[|<level>]", "<month>|..." for a rollup
  long long counted = 0;
  long long ledger = 0;
};

struct ReconcileReport {
  bool ok = true;
  std::vector<StatsDifference> differences;
  long long ledger_entries = 0;  // delivery ledger hashes read
  int settled = 0;               // pending item counts settled before comparing
};

// A historic publication (POST /v1/imports): already validated.
struct ImportRecord {
  int row = 0;  // 1-based data row in the file, for messages
  TimePoint published_at{};
  std::string category;  // to_string(Category)
  std::string kind;      // "publication" or "alert"
  std::string level;     // alert reminder level or ""
  std::vector<std::string> channels;
  std::string title;
  std::string link;
  std::map<std::string, std::string> remote_ids;  // channel → remote id
};

struct ImportSummary {
  int rows = 0;
  int new_items = 0;         // items this import adds (would add, for a dry run)
  int already_imported = 0;  // rows whose item exists from an earlier import
  long long deliveries = 0;  // new deliveries counted
  std::map<std::string, long long> items_by_year;          // new items by year
  std::map<std::string, long long> deliveries_by_channel;  // new deliveries by channel
  std::vector<std::string> item_ids;                       // one per row, in row order
};

class StatsStore {
 public:
  StatsStore(std::string prefix, int utc_offset_minutes);

  int utc_offset_minutes() const { return utc_offset_minutes_; }

  // Checks days, their order and the group names: invalid_input naming "from", "to" or "group_by".
  static Result<void> validate(const StatsQuery& q);

  // Rows for every combination of the groups that has a non-zero count, sorted by the group
  // values in group_by order; with no groups, exactly one row (the totals, possibly zero).
  Result<std::vector<StatsRow>> query(RedisConnection& conn, const StatsQuery& q) const;

  // Channels are remembered so a query finds their counters (heraldd registers the enabled ones
  // at start-up, an import the ones it names).
  Result<void> register_channels(RedisConnection& conn,
                                 const std::vector<std::string>& channels) const;
  Result<std::vector<std::string>> channels(RedisConnection& conn) const;

  // Builds the month rollups from the day hashes once per installation (counters written before
  // rollups existed; heraldd calls it at start-up, before it dispatches). Each rollup is rebuilt
  // atomically from its day hash, so running it again, or after a crash halfway, is harmless.
  // Returns how many rollups it built (0 if they were already there).
  Result<int> build_month_rollups(RedisConnection& conn) const;

  // Counts the items of publications acked on `channel` more than `older_than` ago whose item
  // count is still pending (at most `limit`): the dispatcher calls it right after an ack, the
  // recovery loop for what a crash left behind. Returns how many were settled. Idempotent.
  Result<int> settle_first_publications(RedisConnection& conn, const std::string& channel,
                                        std::chrono::milliseconds older_than,
                                        int limit = 500) const;

  // Recomputes every counter of the days in [from_day, to_day], and the month rollups of the whole
  // months among them, from the delivery ledger (SCAN in bounded batches) and lists each
  // difference. Settles pending item counts first.
  Result<ReconcileReport> reconcile(RedisConnection& conn, const std::string& from_day,
                                    const std::string& to_day) const;

  // Imports validated records as items published then (state "published", marked imported,
  // audit event "imported" by `who`), with ledger entries and counters as if published then.
  // An item's id comes from the record's content, so importing the same rows again adds nothing.
  // With dry_run nothing is written: the summary says what would be counted.
  Result<ImportSummary> import_records(RedisConnection& conn,
                                       const std::vector<ImportRecord>& records,
                                       const std::string& who, bool dry_run) const;

  // The item id an import gives a record (deterministic).
  static std::string import_item_id(const ImportRecord& record);

 private:
  std::string channel_key(const std::string& channel, const std::string& suffix) const;
  std::string items_key(const std::string& suffix) const;

  std::string prefix_;
  int utc_offset_minutes_;
};

// "<day>|<category>|<kind>" or "<day>|<category>|<kind>|<level>": the counter field.
std::string stats_field(const std::string& day, const std::string& category,
                        const std::string& kind, const std::string& level);

}  // namespace herald
