// ItemStore: items in Redis. An item is acknowledged to its submitter only once it is stored; its
// fan-out into deliveries is recorded in a pending set first, so a crash between storing and
// queueing is repaired by recover_fanouts() (enqueueing is idempotent, so repair never duplicates).
//
// Review (两级审核): an item is stored as "pending_review"; approvals from distinct users, never
// its author, are recorded by one script which, at the required number, makes the item "approved"
// and records its fan-out as pending in the same step. A rejection makes it "rejected" for good.
// States: pending_review → approved → queued | scheduled, or pending_review → rejected.
//
// Keys, all under one {items} hash tag so each script touches one slot:
//   <p>{items}:item:<id>   HASH json, state, author, created_at, kind
//   <p>{items}:approvals:<id>  LIST of JSON {user, decision, comment, at}, in review order
//   <p>{items}:audit:<id>  STREAM the item's audit trail (see queue/audit_log.h)
//   <p>{items}:by_time     ZSET id -> created ms (listing, newest first)
//   <p>{items}:fanout      ZSET id -> ms when its fan-out was requested (pending fan-outs)
//   <p>{items}:idem:<user>:<key>  STRING "<id> <sha256 of body>", expires after a day
#pragma once

#include <optional>
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
};

struct StoredItem {
  Item item;
  std::string state;  // "pending_review", "approved", "rejected", "queued", "scheduled"
  std::vector<Approval> approvals;
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

struct CreateResult {
  std::string id;
  bool replayed = false;  // the Idempotency-Key was seen before with the same body
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
  // is no longer under review). When the approvals reach the number required for the item's kind
  // the item becomes "approved" and its fan-out is recorded as pending in the same step; the
  // caller then runs fan_out() (or the recovery loop does).
  Result<ReviewResult> review(RedisConnection& conn, const ReviewRequest& request);

  // Turns an approved item into one delivery per channel (idempotent) and marks it
  // queued/scheduled (audited once, however often it runs).
  Result<void> fan_out(RedisConnection& conn, const Item& item);

  // Re-runs fan-outs requested more than `older_than` ago and not finished (after a crash).
  Result<int> recover_fanouts(RedisConnection& conn, std::chrono::milliseconds older_than);

  Result<std::optional<StoredItem>> get(RedisConnection& conn, const std::string& id);

 private:
  std::string key(const std::string& suffix) const;
  std::string prefix_;
  DeliveryQueue& queue_;
  const Clock& clock_;
  AuditLog audit_;
  std::string retention_seconds_;
};

// A new item id: 26 characters, sortable by creation time (48-bit ms + 80 random bits, Crockford
// base32, lower case).
std::string new_item_id(TimePoint now);

}  // namespace herald
