// ItemStore: items in Redis. An item is acknowledged to its submitter only once it is stored; its
// fan-out into deliveries is recorded in a pending set first, so a crash between storing and
// queueing is repaired by recover_fanouts() (enqueueing is idempotent, so repair never duplicates).
//
// Review (两级审核): an item is stored as "pending_review"; approvals from distinct users, never
// its author, are recorded by one script which, at the required number, makes the item "approved"
// and records its fan-out as pending in the same step. A rejection makes it "rejected" for good.
// States: pending_review → approved → queued | scheduled | withheld (a drill with no channel to
// go to), or pending_review → rejected.
// Recall: approved | queued | scheduled → retracted (retract()); pending_review → withdrawn
// (nothing went out: it just leaves review for good). Rejected, withdrawn and retracted are final.
//
// Keys, all under one {items} hash tag so each script touches one slot:
//   <p>{items}:item:<id>   HASH json, state, author, created_at, kind, approval_record (CMS)
//   <p>{items}:approvals:<id>  LIST of JSON {user, decision, comment, at}, in review order
//   <p>{items}:log:<id>    LIST the item's audit trail (see queue/audit_log.h)
//   <p>{items}:by_time     ZSET id -> created ms (listing, newest first)
//   <p>{items}:fanout      ZSET id -> ms when its fan-out was requested (pending fan-outs)
//   <p>{items}:idem:<user>:<key>  STRING "<id> <sha256 of body>", expires after a day
//   <p>{items}:retracting  ZSET id -> ms of a retraction that may still be unfinished
//   <p>{items}:corrections:<id>  SET ids of the corrections submitted for item <id>
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/item.h"
#include "core/result.h"
#include "queue/audit_log.h"
#include "queue/delivery_queue.h"
#include "queue/redis.h"

namespace herald {

struct Approval {
  std::string user;
  std::string decision;  // "approve" or "reject"
  std::string comment;
  TimePoint at{};
  // Where the approval was given: "herald" (POST /v1/items/{id}/approvals) or "cms:<name>" (an
  // approval record of a CMS configured in review.cms).
  std::string via = "herald";
};

struct StoredItem {
  Item item;
  std::string state;  // "pending_review", "approved", "rejected", "queued", "scheduled"
  std::vector<Approval> approvals;
  // The CMS approval record a publisher submitted the item with (JSON text; "" if none).
  std::string approval_record;
};

// A publisher's item approved in its CMS (review.accept_cms_approvals): the record as validated
// by the API, stored with the item, its approvals and the audit event "cms_approved".
struct CmsApprovalRecord {
  std::string system;     // the CMS's name
  std::string reference;  // the CMS's id of the approval
  std::vector<Approval> approvals;
  std::string json;  // the record as submitted (kept with the item)
};

// A position in the newest-first item list: the by_time score (created ms) and the id.
struct ItemPosition {
  std::int64_t created_ms = 0;
  std::string id;
};

struct ItemRange {
  std::optional<std::int64_t> from_ms;  // created at or after
  std::optional<std::int64_t> to_ms;    // created before
  std::optional<ItemPosition> after;    // strictly after this position (newest first)
};

struct ListedItem {
  ItemPosition position;
  StoredItem stored;  // without approvals
};

struct ReviewRequest {
  std::string item_id;
  std::string user;
  std::string decision;  // "approve" or "reject"
  std::string comment;
  int required_publication = 2;  // approvals a publication needs
  int required_alert = 2;        // approvals an alert needs
};

struct ReviewResult {
  std::string state;  // the item's state afterwards: "pending_review", "approved" or "rejected"
  int approvals = 0;  // approvals so far
  int required = 0;
};

// One channel of a retraction: what happened to the item's delivery there, and its recall.
struct RecallPlanEntry {
  std::string channel;
  std::string delivery_id;
  std::string delivery_state;  // the ledger state now ("cancelled", "published", "in_flight", ...)
  // "cancelled" (it never went out), "recall" (published or in flight: a recall delivery
  // withdraws it), "none" (nothing was ever queued there and nothing will be).
  std::string action;
  std::string recall_id;     // "<item id>-recall.<channel>" when action is "recall"
  std::string recall_state;  // that recall's ledger state
};

struct RetractResult {
  std::string state;     // "retracted" or "withdrawn"
  bool already = false;  // it was so before this call (nothing new was done)
  std::string retracted_by, reason;
  std::vector<RecallPlanEntry> plan;  // one per channel of the item (empty when withdrawn)
  // Corrections of the item that were under review and were withdrawn by this call.
  std::vector<std::string> withdrawn_corrections;
};

// The scope an Idempotency-Key is remembered in: one user on one route (`route` is the method and
// path pattern, e.g. "POST /v1/items/{id}/corrections", with `item_id` the id in the path), so the
// same key from another user or on another route is another request. The user's name is length-
// prefixed: no choice of name and key can reach another user's scope.
std::string idempotency_scope(std::string_view user, std::string_view route,
                              std::string_view item_id = {});

struct CreateResult {
  std::string id;
  bool replayed = false;  // the Idempotency-Key was seen before with the same body
};

// One item of ItemStore::create_many(): the arguments of create(), or of create_approved() when
// `record` is set. The pointers must outlive the call.
struct NewItem {
  const Item* item = nullptr;
  const CmsApprovalRecord* record = nullptr;
  std::string idempotency_scope;
  std::string idempotency_key;  // "" for none
  std::string body_sha256;
};

class ItemStore {
 public:
  ItemStore(std::string prefix, DeliveryQueue& queue, const Clock& clock,
            std::chrono::seconds audit_retention = kDefaultAuditRetention);

  // Stores `item` (its id must be set) as pending review. With an idempotency key: the same key and
  // body → the first item's id with replayed = true; the same key with another body →
  // invalid_input, code "idempotency_conflict".
  Result<CreateResult> create(RedisConnection& conn, const Item& item,
                              const std::string& idempotency_scope,
                              const std::string& idempotency_key, const std::string& body_sha256);

  // Records one review atomically. Refusals are invalid_input errors with code "not_found",
  // "self_approval" (the author), "already_reviewed" (this user did) or "not_pending" (the item
  // is no longer under review), "original_retracted" (approving a correction of an item
  // retracted meanwhile). When the approvals reach the number required for the item's kind
  // the item becomes "approved" and its fan-out is recorded as pending in the same step; the
  // caller then runs fan_out() (or the recovery loop does).
  Result<ReviewResult> review(RedisConnection& conn, const ReviewRequest& request);

  // Turns an approved item into one delivery per channel (idempotent) and marks it
  // queued/scheduled (audited once, however often it runs). A drill gets no delivery on the
  // channels of withhold_drills_on() (audited as "drill_withheld"); with none left it becomes
  // "withheld", a final state.
  Result<void> fan_out(RedisConnection& conn, const Item& item);

  // Sets the payload of each delivery that has none (an item's publication: its body is kept
  // once, with the item) to the item's stored JSON, in one call. One whose item is not stored
  // keeps an empty payload, which its channel refuses as a permanent failure.
  Result<void> load_payloads(RedisConnection& conn, std::vector<Delivery>& deliveries) const;

  // The channels on which a drill (status "exercise") is not sent at all (config
  // channels.<name>.drills "withheld"). None by default.
  void withhold_drills_on(std::set<std::string> channels) {
    drills_withheld_on_ = std::move(channels);
  }

  // Re-runs fan-outs requested more than `older_than` ago and not finished (after a crash).
  Result<int> recover_fanouts(RedisConnection& conn, std::chrono::milliseconds older_than);

  Result<std::optional<StoredItem>> get(RedisConnection& conn, const std::string& id);

  // Retracts an item everywhere (DESIGN.md §3 Recall): state "retracted" with who and why
  // (audited), its fan-out stopped, each channel's delivery cancelled if it has not been
  // published (queue cancel(), which also marks one in flight), and one recall delivery
  // ("<id>-recall.<channel>", kind "retraction", alert lane) per channel whose delivery is
  // published or in flight. An item still under review becomes "withdrawn" instead. Idempotent:
  // a repeated call answers the same state (already = true) and re-runs the cancels and recalls,
  // which change nothing twice (so it also finishes a retraction a crash interrupted).
  // Corrections of a retracted item still under review become "withdrawn" (audited with the
  // reason), and review() refuses to approve one ("original_retracted"): a correction published
  // after the Cancel would bring the alert back.
  // Refusals (invalid_input): "not_found"; "not_retractable" (rejected). An empty reason is
  // refused with field "reason".
  Result<RetractResult> retract(RedisConnection& conn, const std::string& item_id,
                                const std::string& who, const std::string& reason);
  // Finishes retractions begun more than `older_than` ago (a heraldd died in between).
  Result<int> recover_retractions(RedisConnection& conn, std::chrono::milliseconds older_than);

  // Like create(), but the item is stored already approved by `record` (its approvals, the audit
  // events "submitted", "cms_approved" and "approved") with its fan-out recorded as pending in the
  // same step; the caller then runs fan_out(). The record must have been validated.
  Result<CreateResult> create_approved(RedisConnection& conn, const Item& item,
                                       const CmsApprovalRecord& record,
                                       const std::string& idempotency_scope,
                                       const std::string& idempotency_key,
                                       const std::string& body_sha256);

  // create() or create_approved() (by NewItem::record) for each of `items`, all in one pipelined
  // round trip (one more only to reload a script Redis lost), each item still one atomic script
  // call, applied in order. One result per item: an item's refusal (an idempotency conflict) or
  // error reply leaves the others alone. An I/O failure fails the whole call, and items before
  // the failure may be stored: retrying with the same idempotency keys finds them.
  Result<std::vector<Result<CreateResult>>> create_many(RedisConnection& conn,
                                                        const std::vector<NewItem>& items);

  // The stored state of each of `ids` ("" for an id with no item), in one pipelined round trip.
  Result<std::vector<std::string>> states(RedisConnection& conn,
                                          const std::vector<std::string>& ids);

  // Up to `count` items in `range`, newest first (by creation time, then id), in one ZSET read
  // and one pipelined read of the items. Items added meanwhile never shift a later page: a
  // position, not an offset, says where the next page starts.
  Result<std::vector<ListedItem>> list_newest(RedisConnection& conn, const ItemRange& range,
                                              int count);

 private:
  std::string key(const std::string& suffix) const;
  // The KEYS and ARGV of item_create (or item_create_approved with a record): the one place
  // they are built, for create(), create_approved() and create_many() alike.
  RedisScript::Call create_call(const NewItem& item) const;
  // Withdraws the corrections of `item_id` still under review; their ids.
  Result<std::vector<std::string>> withdraw_corrections(RedisConnection& conn,
                                                        const std::string& item_id,
                                                        const std::string& who,
                                                        const std::string& reason);
  // The per-channel half of retract(): cancels, recall deliveries, then the plan as it stands.
  Result<std::vector<RecallPlanEntry>> settle_retraction(RedisConnection& conn, const Item& item,
                                                         const std::string& who,
                                                         const std::string& reason);
  std::string prefix_;
  DeliveryQueue& queue_;
  const Clock& clock_;
  AuditLog audit_;
  std::string retention_seconds_;
  std::set<std::string> drills_withheld_on_;
};

// A new item id: 26 characters, sortable by creation time (48-bit ms + 80 random bits, Crockford
// base32, lower case).
std::string new_item_id(TimePoint now);

}  // namespace herald
