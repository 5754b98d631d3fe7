// DeliveryQueue: the crash-safe delivery queue in Redis. Every state change is one Lua script, so a
// delivery is always in exactly one place (a lane, the time-ordered set, in flight under a lease,
// dead, or finished in the ledger), and the ledger, the ack and the tally move together.
//
// Keys (all under options.prefix, one {hash tag} per channel so a channel's keys share a slot):
//   <p>{<ch>}:alert / :routine   LIST of delivery ids waiting, alert lane taken first
//   <p>{<ch>}:timed               ZSET id -> due ms (scheduled publish_at and retries)
//   <p>{<ch>}:inflight            ZSET id -> lease deadline ms
//   <p>{<ch>}:dead                ZSET id -> time it died
//   <p>{<ch>}:wake:alert          LIST with at most one token: alert work may be claimable
//   <p>{<ch>}:wake                LIST with at most one token: routine work may be claimable
//   <p>{<ch>}:d:<id>              HASH: the delivery's ledger (state, attempts, remote_id, ...)
//   <p>{<ch>}:lease_seq           STRING counter, part of every lease token (unique per claim)
//   <p>{<ch>}:tally:<yyyy>        HASH "<yyyy-mm-dd>|<category>|<kind>" -> published count
//   <p>{<ch>}:failed:<yyyy>       HASH the same fields -> dead letters by the day they died
//   <p>{<ch>}:tally:<yyyy>:months HASH the month rollups of the two ("<yyyy-mm>|<category>|...")
//   <p>{<ch>}:failed:<yyyy>:months       (see queue/stats_store.h)
//   <p>{<ch>}:log:<id>            LIST the delivery's audit trail (attempt, published, retry,
//                                 dead, lease_expired, replayed; see queue/audit_log.h)
// Every script declares its keys in KEYS, except claim and depths, which reach the ledger hashes
// of ids they pop from a list; those names are built from "<p>{<ch>}:d:" and so stay in the slot.
// Audit lists are named the same way from "<p>{<ch>}:log:" (claim, complete).
// The scripts are queue/lua/*.lua. Needs Redis >= 6.2 (LPOP with a count, decimal BLPOP timeouts).
//
// Ledger fields: id, item_id, channel, lane, category, kind, payload (until published), state,
// attempts (claims so far, less deferrals), maybe_sent / lookup_only / deferred_since (see
// complete.lua), created_at, queued_at, updated_at, publish_at, lease_owner,
// lease_token, attempt_started_at (while in flight), next_attempt_at, last_error,
// last_error_code, remote_id, published_at, dead_at, replayed_at. Times are unix ms. Ledger
// hashes are kept after publishing (audit, dedup of a repeated fan-out) without the payload.
//
// Leases, not stream consumer groups: a lease deadline in a ZSET lets one script promote,
// reclaim and claim in one round trip, and a token per claim makes a late ack from a worker
// whose lease was reclaimed harmless (it is "stale": no state change, no tally).
//
// The queue object holds no connection: each thread passes its own RedisConnection, so a
// dispatcher can block on one connection while acking on another.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/delivery.h"
#include "core/result.h"
#include "queue/redis.h"

namespace herald {

struct QueueOptions {
  std::string prefix = "herald:";
  std::chrono::milliseconds lease{10000};  // a claim expires this long after its last heartbeat
  int max_attempts = 8;                    // then the delivery is dead
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds retry_max{std::chrono::minutes(10)};
  // Longest a worker blocks while something is due later; with nothing due at all (nothing
  // timed, no lease) the dispatcher blocks for two leases if that is longer.
  std::chrono::milliseconds idle_block{5000};
  int utc_offset_minutes = 480;  // office time zone for tally days (+08:00)
  int move_batch = 1000;         // most timed promotions and lease reclaims done by one claim call
  std::chrono::seconds audit_retention{3660LL * 24 * 3600};  // EXPIRE of audit streams, refreshed
};

struct NewDelivery {
  Delivery delivery;                    // id, item_id, channel, lane, category, kind, payload
  std::optional<TimePoint> publish_at;  // in the future → scheduled instead of queued
};

struct ClaimRequest {
  std::string owner;    // worker identity (host:pid:dispatcher), stored with the lease
  int max_alert = 1;    // free slots for alerts (at most 1000 are taken per call)
  int max_routine = 0;  // free slots for routine work, taken only when no alert waits (<= 1000)
  // At most this many in all (a dispatcher's free slots, of which max_alert are open to alerts
  // and max_routine to routine work); 0 = max_alert + max_routine.
  int max_total = 0;
};

struct Claimed {
  std::vector<Delivery> deliveries;  // alerts first; each with attempt and lease_token set
  // How long until something becomes due without a wake-up (a scheduled delivery, a retry, or a
  // lease that may expire), by Redis's clock: how long an idle worker may block.
  std::optional<Millis> next_due_in;
};

// What the queue does with a delivery after an attempt (queue/lua/complete.lua):
//   retry     spends the attempt and comes back after retry_in (dead once max_attempts are used,
//             except after an ambiguous attempt: then one more attempt only looks, lookup_only);
//   deferred  the platform said "wait": comes back after retry_in without spending the attempt,
//             dead (deferred_too_long) once a run of deferrals is longer than defer_limit;
//   cancelled the worker found the delivery's cancel mark (a retraction) right before publishing
//             and did not publish it (applied by queue/lua/cancel.lua; never tallied).
enum class OutcomeKind { published, retry, deferred, dead, cancelled };

struct Completion {
  std::string delivery_id;
  std::string lease_token;
  OutcomeKind outcome = OutcomeKind::published;
  std::string remote_id;      // published
  std::string error_code;     // retry / dead
  std::string error_message;  // retry / dead
  // retry, deferred: from the moment the queue applies the completion, by Redis's clock (a
  // delay, not a time, so that a host clock that runs ahead cannot shorten it).
  Millis retry_in{0};
  // The attempt may have reached the platform (ambiguous): the ledger keeps a maybe_sent mark
  // and the next attempt looks on the platform before sending again.
  bool maybe_sent = false;
  std::chrono::milliseconds defer_limit{0};  // deferred: the longest run of deferrals; 0 = none
  // published: false leaves the tally alone (a recall that found nothing to withdraw is done,
  // but withdrew nothing to count).
  bool counted = true;
};

// stale: the lease was lost (reclaimed); ignored. buried: applied, but a retry of a delivery
// that has used max_attempts, or a deferral past its limit, became a dead letter instead
// (decided in the script, from the ledger).
enum class CompletionResult { applied, stale, buried };

struct DeliveryRecord {
  std::string id;
  std::string item_id;
  std::string channel;
  Lane lane = Lane::routine;
  DeliveryState state = DeliveryState::queued;
  std::string category;
  std::string kind;
  int attempts = 0;
  std::string remote_id;
  std::string last_error;
  std::string last_error_code;
  std::optional<TimePoint> created_at, updated_at, published_at, next_attempt_at;
};

// What cancel() did: result "cancelled" (it was waiting, dead or unknown: now cancelled),
// "cancel_requested" (in flight: marked; the worker cancels it if it has not started publishing),
// "published" (left alone: a recall's business) or "already_cancelled".
struct CancelResult {
  std::string result;
  std::string state_before;  // "" when there was no ledger (a tombstone was written)
};

struct LaneDepths {
  long long alert = 0, routine = 0, timed = 0, inflight = 0, dead = 0;
  std::optional<TimePoint> oldest_waiting;  // when the oldest waiting delivery was queued
};

class DeliveryQueue {
 public:
  DeliveryQueue(QueueOptions options, const Clock& clock);

  const QueueOptions& options() const { return options_; }

  // Adds deliveries (any channels, pipelined); an id that already exists is left alone, so a
  // repeated fan-out never queues a delivery twice. Returns how many were new.
  Result<int> enqueue(RedisConnection& conn, const std::vector<NewDelivery>& deliveries);

  // One script: promote due timed deliveries, put expired leases back at the head of their lane,
  // then claim alerts (up to max_alert) and, only if no alert is left waiting, routine deliveries.
  // Each claim counts as an attempt; a lease that expires on a delivery that has used
  // max_attempts buries it (code "lease_expired"), so a delivery that kills its worker cannot loop.
  // Promotions and reclaims are bounded by options.move_batch per call.
  Result<Claimed> claim(RedisConnection& conn, const std::string& channel,
                        const ClaimRequest& request);

  // Blocks (on a connection used for nothing else) until work may be there or `timeout` passes;
  // true if a wake token was taken. Costs one command per wake-up, none while idle. Call it only
  // with free capacity; with `routine_capacity` false (only alert-reserved slots free) routine
  // arrivals do not wake this worker, which could not take them and would spin on the token.
  Result<bool> wait_for_work(RedisConnection& blocking_conn, const std::string& channel,
                             std::chrono::milliseconds timeout, bool routine_capacity = true);

  // Acks, retries or buries a batch in one script call. Only a completion whose lease token still
  // matches is applied; a published one writes remote id, state and tally in that same step.
  Result<std::vector<CompletionResult>> complete(RedisConnection& conn, const std::string& channel,
                                                 const std::vector<Completion>& completions);

  // Extends the leases of deliveries this owner still holds; returns how many were extended.
  Result<int> heartbeat(RedisConnection& conn, const std::string& channel,
                        const std::vector<std::pair<std::string, std::string>>& id_and_token);

  // Exponential backoff with full jitter: uniform in [0, min(retry_max, retry_base *
  // 2^(attempt-1))], but at least `retry_after` when the platform named one (even beyond
  // retry_max).
  std::chrono::milliseconds backoff(int attempt,
                                    std::optional<std::chrono::milliseconds> retry_after,
                                    std::mt19937_64& rng) const;

  Result<std::optional<DeliveryRecord>> get(RedisConnection& conn, const std::string& delivery_id);
  // One pipelined round trip; ids with no ledger entry are left out.
  Result<std::vector<DeliveryRecord>> get_many(RedisConnection& conn,
                                               const std::vector<std::string>& delivery_ids);
  // Dead letters, most recently buried first.
  Result<std::vector<DeliveryRecord>> list_dead(RedisConnection& conn, const std::string& channel,
                                                int offset, int limit);
  // Moves a dead delivery back to its lane with a fresh attempt budget. not found / not dead →
  // invalid_input error with code "not_found" / "not_dead". `who` goes into the audit trail.
  Result<void> replay(RedisConnection& conn, const std::string& delivery_id,
                      const std::string& who = "");

  // Cancels a delivery that has not been published (queue/lua/cancel.lua): removed from wherever
  // it waits (lane, timed set, dead letters), state "cancelled", audited with `who` and `reason`.
  // One in flight is marked cancel_requested instead. With no ledger yet, a cancelled tombstone
  // (item `item_id`) keeps a later fan-out from queueing it. Idempotent.
  Result<CancelResult> cancel(RedisConnection& conn, const std::string& delivery_id,
                              const std::string& who, const std::string& reason,
                              const std::string& item_id = "");
  // True if the delivery's ledger carries a cancel mark. Workers do not call it: the claim hands
  // them the mark (Delivery::cancel_requested); this reads it on its own, for tests and tools.
  Result<bool> cancel_requested(RedisConnection& conn, const std::string& delivery_id);

  // Published counts of one channel and year, per "<yyyy-mm-dd>|<category>|<kind>" (days in the
  // office time zone, options.utc_offset_minutes).
  Result<std::map<std::string, long long>> read_tally(RedisConnection& conn,
                                                      const std::string& channel, int year);
  Result<LaneDepths> depths(RedisConnection& conn, const std::string& channel);

  // The name of one of a channel's keys, e.g. key("weibo", "alert") → "<p>{weibo}:alert".
  std::string key(const std::string& channel, const std::string& suffix) const;

 private:
  // The scripts' "now" argument: '' (they read Redis TIME) unless the clock pins it.
  std::string script_now() const;

  QueueOptions options_;
  const Clock& clock_;
  RedisScript enqueue_script_, claim_script_, complete_script_, heartbeat_script_, replay_script_,
      depths_script_;
  RedisScript cancel_script_;
  // complete() for a batch that holds cancelled outcomes: those go through cancel.lua.
  Result<std::vector<CompletionResult>> complete_with_cancellations(
      RedisConnection& conn, const std::string& channel,
      const std::vector<Completion>& completions);
};

// The channel a delivery id belongs to ("<item>.<channel>" → "<channel>"; item ids never contain
// a '.', so everything after the first one). Empty if the id has no '.'.
std::string channel_of_delivery(const std::string& delivery_id);

// "yyyy-mm-dd" of `t` at the given fixed UTC offset: the day a tally counts a publication on.
std::string tally_day(TimePoint t, int utc_offset_minutes);

}  // namespace herald
