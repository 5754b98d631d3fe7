// PlatformLedger: the Redis side of reconciling Herald against what the platforms hold
// (GET /v1/stats/reconcile?against=platforms): a channel's delivery ledger read whole, the repair
// of a dead letter a platform proves published, and the record of the last clean reconciliation.
//
// Keys (besides the queue's, see queue/delivery_queue.h and queue/stats_store.h):
//   <p>{items}:reconcile:platforms   HASH of the last reconciliation that came back clean:
//                                    on (yyyy-mm-dd, office time zone), at (unix ms), from, to
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/delivery.h"
#include "core/result.h"
#include "queue/audit_log.h"
#include "queue/redis.h"

namespace herald {

// One delivery's ledger, as reconciliation needs it.
struct LedgerEntry {
  std::string delivery_id;
  std::string item_id;
  DeliveryState state = DeliveryState::queued;
  DeliveryKind kind = DeliveryKind::publication;
  std::string remote_id;
  std::optional<TimePoint> published_at, dead_at, failed_at;
  bool exercise = false;
  std::string item_state;  // the item's stored state ("retracted", ...), "" without an item
};

struct CleanReconciliation {
  std::string on;  // the day it ran, "yyyy-mm-dd" in the office time zone
  TimePoint at{};
  std::string from, to;  // the period it checked
};

// What settle_dead_letter() did.
enum class SettleResult { settled, not_dead, changed, not_found };

class PlatformLedger {
 public:
  // `audit_retention`: the EXPIRE refreshed on the audit stream it writes to
  // (audit.retention_days).
  PlatformLedger(std::string prefix, int utc_offset_minutes,
                 std::chrono::seconds audit_retention = kDefaultAuditRetention);

  // Every ledger entry of `channel` (SCAN over <p>{<channel>}:d:* in bounded batches), each with
  // its item's state.
  Result<std::vector<LedgerEntry>> entries(RedisConnection& conn, const std::string& channel) const;

  // A dead letter the platform shows published at `published_at` under `remote_id` becomes
  // published in one script step, as if its attempt had been acked then: state, remote id and
  // published_at in the ledger, out of the dead set, the channel's tally counted on that day and
  // its `failed` count taken back from the day it died (failed_at is dropped, so the ledger and
  // the counters still agree), the item queued for its count (firstpub, settled by StatsStore),
  // and a "reconciled" event in the delivery's audit trail. A drill is recorded, never counted.
  // `failed_at` must be what entries() read: a ledger that changed since is left alone.
  Result<SettleResult> settle_dead_letter(RedisConnection& conn, const LedgerEntry& entry,
                                          const std::string& channel, const std::string& remote_id,
                                          TimePoint published_at, const std::string& who,
                                          TimePoint now) const;

  Result<void> record_clean(RedisConnection& conn, const CleanReconciliation& clean) const;
  Result<std::optional<CleanReconciliation>> last_clean(RedisConnection& conn) const;

 private:
  std::string prefix_;
  int utc_offset_minutes_;
  std::chrono::seconds audit_retention_;
};

}  // namespace herald
