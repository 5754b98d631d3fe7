// RecallRoutes: taking back what was published (DESIGN.md §3 "Recall"):
// POST /v1/items/{id}/retract and POST /v1/items/{id}/corrections. Matches only those paths.
#pragma once

#include <optional>
#include <set>
#include <string>

#include "core/clock.h"
#include "core/content_gate.h"
#include "core/item.h"
#include "queue/delivery_queue.h"
#include "queue/item_store.h"
#include "queue/redis.h"
#include "services/heraldd/routes.h"

namespace herald {

struct RecallDeps {
  RedisPool& redis;
  ItemStore& items;
  const Clock& clock;
  const SharedContentGate& gate;   // a correction is checked like any submission
  std::set<std::string> channels;  // enabled channels
  ItemLimits limits;
};

// POST /v1/items/{id}/retract {reason} (duty_officer): 202 with the item's state ("retracted",
// or "withdrawn" for an item still under review) and the per-channel plan: each delivery's state
// and what happens to it ("cancelled": it never went out; "recall": a recall delivery withdraws
// it, with that recall's id and state). Repeating it answers the same ("already": true) and
// queues nothing twice. Corrections of it still under review are withdrawn (their ids in
// "withdrawn_corrections"), and one can no longer be approved (409 "original_retracted").
// 404 unknown item, 409 a rejected item (never approved), 422 no reason.
//
// POST /v1/items/{id}/corrections (duty_officer, drafter): body = the fields that change (merged
// over the original's; "channels" may only narrow the original's). Only an alert can be
// corrected (a CAP Update); a publication answers 422 "not_correctable" (retract it and submit a
// new one). The original must have been approved and not retracted (409 otherwise). The
// correction is a NEW item with "corrects": <original id>, stored pending_review: it goes through
// the same two-level review as any item before anything is sent, and then goes out on its
// channels as deliveries of kind "correction". 201 {id, state, corrects}. Idempotency-Key as on
// POST /v1/items.
class RecallRoutes final : public RouteGroup {
 public:
  explicit RecallRoutes(RecallDeps deps) : deps_(std::move(deps)) {}
  std::optional<ServerResponse> handle(const ServerRequest& request, const AuthUser* user) override;

 private:
  ServerResponse retract(const ServerRequest& request, const std::string& id, const AuthUser& user);
  ServerResponse correct(const ServerRequest& request, const std::string& id, const AuthUser& user);

  RecallDeps deps_;
};

}  // namespace herald
