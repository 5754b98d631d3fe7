// Api: the REST routes of heraldd (DESIGN.md §4). Handlers run on the HTTP server's worker pool and
// may block on Redis (with timeouts); they never run on an I/O thread.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
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
#include "services/heraldd/notifier.h"
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
  // Where reviewers' notifications are queued; null when none are configured (notify).
  const ReviewOutbox* review_outbox = nullptr;
};

// POST /v1/items:batch: up to kItemsBatchMaxItems items in one request, each checked exactly as
// POST /v1/items checks one and answered on its own (services/heraldd/item_batch.cpp).
inline constexpr std::string_view kItemsBatchPath = "/v1/items:batch";
inline constexpr std::size_t kItemsBatchMaxItems = 1000;
// The batch route's own body cap, given to the HTTP server by path: http.max_body_bytes (1 MiB by
// default) is sized for one item, and 1,000 ordinary items (an alert or a notice is 1 to 4 KiB
// of JSON) already exceed it. 16 KiB per item on average; larger texts go in smaller batches.
inline constexpr std::size_t kItemsBatchMaxBodyBytes = 16 * 1024 * 1024;

// The items routes (submit, show, review, audit) are Api's own; every other area of the API is a
// RouteGroup added at start-up (services/heraldd/*_routes.*), asked in the order added.
class Api {
 public:
  explicit Api(ApiDeps deps) : deps_(std::move(deps)) {}
  void add_routes(std::unique_ptr<RouteGroup> group) { groups_.push_back(std::move(group)); }
  // `session_user`: the user of a console session (services/heraldd/console_routes.h), who then
  // stands in for the bearer token; null means the Authorization header decides.
  ServerResponse handle(const ServerRequest& request, const AuthUser* session_user = nullptr);
  // What GET /v1/items/{id} answers: the item, its deliveries and recalls (also streamed by
  // GET /v1/items/{id}/events, which must send exactly this).
  ServerResponse show_item(const std::string& id) { return get_item(id); }

 private:
  // A submission that passed every check, built and ready to store.
  struct Submission {
    Item item;
    std::optional<CmsApprovalRecord> record;  // set: stored approved (a CMS's approval record)
  };
  // What POST /v1/items and each item of POST /v1/items:batch share: the server-only fields,
  // the approval record (who may send one, config, the record against the review rules),
  // validation and the content gate; then the item's id, author and creation time. A refusal is
  // the answer POST /v1/items gives.
  std::variant<Submission, ServerResponse> prepare_submission(nlohmann::json body,
                                                              const AuthUser& user);
  // The state to answer for a submission just stored (not a replay): pending_review, or for an
  // approved one its fan-out's queued/scheduled ("approved" if the fan-out is left to recovery).
  std::string state_after_create(RedisConnection& conn, const Submission& submission);
  int required_approvals(const Item& item) const;  // review.approvals_required for its kind
  ServerResponse submit_item(const ServerRequest& request, const AuthUser& user);
  ServerResponse submit_batch(const ServerRequest& request, const AuthUser& user);
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

// Durable before answered (DESIGN.md §3), with replicas: the write is in Redis (fsynced there) but
// fewer replicas than redis.wait_replicas confirmed it. Not a success, since a failover now could
// lose it, and not "nothing was accepted" either: the message says `what` is stored and how to
// `retry`.
ServerResponse unreplicated(const std::string& what, const std::string& retry, const Error& error);

// A refusal by the content gate: 422 with the verdict's code, message and field, and a "details"
// array with each blocked word, its field and its position (in code points).
ServerResponse gate_refusal(const GateVerdict& verdict);

}  // namespace herald
