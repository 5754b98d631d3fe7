// ItemStore: items in Redis. An item is acknowledged to its submitter only once it is stored; its
// fan-out into deliveries is recorded in a pending set first, so a crash between storing and
// queueing is repaired by recover_fanouts() (enqueueing is idempotent, so repair never duplicates).
//
// Keys, all under one {items} hash tag so each script touches one slot:
//   <p>{items}:item:<id>   HASH json, state, author, created_at, idem
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
#include "queue/delivery_queue.h"
#include "queue/redis.h"

namespace herald {

struct StoredItem {
  Item item;
  std::string state;  // "accepted", "queued", "scheduled"
};

struct CreateResult {
  std::string id;
  bool replayed = false;  // the Idempotency-Key was seen before with the same body
};

class ItemStore {
 public:
  ItemStore(std::string prefix, DeliveryQueue& queue, const Clock& clock);

  // Stores `item` (its id must be set). With an idempotency key: the same key and body → the first
  // item's id with replayed = true; the same key with another body → invalid_input, code
  // "idempotency_conflict".
  Result<CreateResult> create(RedisConnection& conn, const Item& item,
                              const std::string& idempotency_scope,
                              const std::string& idempotency_key, const std::string& body_sha256);

  // Turns a stored item into one delivery per channel (idempotent) and marks it queued/scheduled.
  Result<void> fan_out(RedisConnection& conn, const Item& item);

  // Re-runs fan-outs requested more than `older_than` ago and not finished (after a crash).
  Result<int> recover_fanouts(RedisConnection& conn, std::chrono::milliseconds older_than);

  Result<std::optional<StoredItem>> get(RedisConnection& conn, const std::string& id);

 private:
  std::string key(const std::string& suffix) const;
  std::string prefix_;
  DeliveryQueue& queue_;
  const Clock& clock_;
};

// A new item id: 26 characters, sortable by creation time (48-bit ms + 80 random bits, Crockford
// base32, lower case).
std::string new_item_id(TimePoint now);

}  // namespace herald
