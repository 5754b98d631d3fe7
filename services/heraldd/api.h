// Api: the REST routes of heraldd (DESIGN.md §4). Handlers run on the HTTP server's worker pool and
// may block on Redis (with timeouts); they never run on an I/O thread.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/content_gate.h"
#include "core/item.h"
#include "queue/audit_log.h"
#include "queue/delivery_queue.h"
#include "queue/item_store.h"
#include "queue/redis.h"
#include "services/common/http_server.h"
#include "services/heraldd/auth.h"
#include "services/heraldd/cms_approval.h"
#include "services/heraldd/routes.h"

namespace herald {

// Approvals an item needs before it is queued (review.approvals_required).
struct ReviewPolicy {
  int publication = 2;
  int alert = 2;
  // review.accept_cms_approvals: a publisher may submit an item with an "approval_record" from its
  // CMS (services/heraldd/cms_approval.h); it is then stored approved and fanned out at once.
  bool accept_cms_approvals = false;
  std::vector<CmsSource> cms;          // review.cms
  bool cms_alerts_accepted = false;    // review.cms_alerts is "accepted"
  std::vector<std::string> reviewers;  // auth.users with the reviewer role: who a record may name
};

// The CMS `publisher_user` submits for; nullptr if none.
inline const CmsSource* find_cms(const ReviewPolicy& review, const std::string& publisher_user) {
  for (const auto& cms : review.cms) {
    if (cms.publisher_user == publisher_user) return &cms;
  }
  return nullptr;
}

struct ApiDeps {
  RedisPool& redis;
  ItemStore& items;
  DeliveryQueue& queue;
  const Authenticator& auth;
  const Clock& clock;
  const SharedContentGate& gate;  // checked on submission (and by the dispatchers, again)
  const AuditLog& audit;
  std::set<std::string> channels;  // enabled channels: what an item may name
  ReviewPolicy review;
  ItemLimits limits;
};

// The items routes (submit, show, review, audit) are Api's own; every other area of the API is a
// RouteGroup added at start-up (services/heraldd/*_routes.*), asked in the order added.
class Api {
 public:
  explicit Api(ApiDeps deps) : deps_(std::move(deps)) {}
  void add_routes(std::unique_ptr<RouteGroup> group) { groups_.push_back(std::move(group)); }
  ServerResponse handle(const ServerRequest& request);

 private:
  ServerResponse submit_item(const ServerRequest& request, const AuthUser& user);
  ServerResponse get_item(const std::string& id);
  ServerResponse review_item(const ServerRequest& request, const std::string& id,
                             const AuthUser& user);
  ServerResponse item_audit(const std::string& id);
  ServerResponse readiness();

  ApiDeps deps_;
  std::vector<std::unique_ptr<RouteGroup>> groups_;
};

// The state a client sees: the stored one (pending_review, approved, queued, ...) refined by the
// deliveries (publishing, published, partially_failed, failed).
std::string item_overall_state(const std::string& stored_state,
                               const std::vector<DeliveryRecord>& deliveries);

// A refusal by the content gate: 422 with the verdict's code, message and field, and a "details"
// array with each blocked word, its field and its position (in code points).
ServerResponse gate_refusal(const GateVerdict& verdict);

}  // namespace herald
