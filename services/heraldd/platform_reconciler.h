// PlatformReconciler: Herald's ledger against what each platform holds (GET
// /v1/stats/reconcile?against=platforms). Per enabled channel it reads the
// platform back (Channel::list_published) and the channel's ledger (PlatformLedger), matches them
// by remote id, then by the delivery's marker, and lists four kinds of difference:
//   unknown_to_herald    on the platform, in the period, matching no delivery (or a second copy
//                        carrying the marker of a delivery Herald knows under another id);
//   missing_on_platform  published in Herald in the period (its item not retracted) but not live
//                        on the platform;
//   dead_but_live        a dead letter (counted failed) that the platform shows published;
//   live_but_retracted   live on the platform, but its item was retracted in Herald.
// Reading only, unless `repair`: then each dead_but_live delivery is settled as published with
// the platform's remote id (PlatformLedger::settle_dead_letter) and its item count settled.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "adapters/channel.h"
#include "core/clock.h"
#include "core/result.h"
#include "queue/platform_ledger.h"
#include "queue/redis.h"
#include "queue/stats_store.h"

namespace herald {

struct PlatformDifference {
  std::string delivery_id;  // "" when the platform's record matches no delivery
  std::string item_id;
  std::string remote_id;         // what the platform holds ("" when it showed nothing)
  std::string herald_remote_id;  // what the ledger holds
  std::string marker;
  std::optional<TimePoint> platform_at, herald_at;
  std::string note;
  bool repaired = false;
};

struct ChannelReconciliation {
  std::string channel;
  bool supported = true;       // false: the channel cannot list its platform (webhooks)
  std::optional<Error> error;  // the platform (or the ledger) could not be read
  std::vector<PlatformDifference> unknown_to_herald, missing_on_platform, dead_but_live,
      live_but_retracted;
  long long platform_records = 0;         // records the platform listed in the period
  long long herald_deliveries = 0;        // deliveries Herald holds as published in the period
  std::vector<std::string> unverifiable;  // delivery ids the platform could not speak to
  std::optional<TimePoint> complete_from;
  std::vector<std::string> notes;

  bool clean() const {
    return supported ? !error && unknown_to_herald.empty() && missing_on_platform.empty() &&
                           dead_but_live.empty() && live_but_retracted.empty()
                     : true;
  }
};

struct PlatformReconcileReport {
  bool ok = true;  // every channel that can list was read and every list is empty
  std::string from, to;
  bool repair = false;
  int repaired = 0;
  std::vector<ChannelReconciliation> channels;
  std::optional<CleanReconciliation> last_clean;  // after this run
};

// [start of `from_day`, end of `to_day`] in the office's time zone; nullopt for a malformed day.
std::optional<std::pair<TimePoint, TimePoint>> period_bounds(const std::string& from_day,
                                                             const std::string& to_day,
                                                             int utc_offset_minutes);

// The comparison of one channel: pure, so it is tested without a platform or Redis. `entries` is
// the channel's whole ledger, `listing` what the platform listed (already read around the
// period), [from, to] the period.
ChannelReconciliation compare_with_platform(const std::string& channel,
                                            const std::vector<LedgerEntry>& entries,
                                            const PlatformListing& listing, TimePoint from,
                                            TimePoint to);

class PlatformReconciler {
 public:
  // `channels` are the enabled channels, owned by the daemon (safe to call from a request
  // thread while the dispatchers use them).
  PlatformReconciler(std::vector<Channel*> channels, PlatformLedger ledger, const StatsStore& stats,
                     const Clock& clock, int utc_offset_minutes)
      : channels_(std::move(channels)),
        ledger_(std::move(ledger)),
        stats_(stats),
        clock_(clock),
        utc_offset_minutes_(utc_offset_minutes) {}

  // `only` restricts to these channels (empty: every enabled one; an unknown name is an
  // invalid_input error on "channel"). A clean run over every channel is recorded as the last
  // clean reconciliation. Errors are Redis failures only: a platform that cannot be read is its
  // channel's `error`.
  Result<PlatformReconcileReport> run(RedisConnection& conn, const std::string& from_day,
                                      const std::string& to_day, bool repair,
                                      const std::string& who,
                                      const std::vector<std::string>& only = {});

  Result<std::optional<CleanReconciliation>> last_clean(RedisConnection& conn) const {
    return ledger_.last_clean(conn);
  }

 private:
  std::vector<Channel*> channels_;
  PlatformLedger ledger_;
  const StatsStore& stats_;
  const Clock& clock_;
  int utc_offset_minutes_;
};

}  // namespace herald
