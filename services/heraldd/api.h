// Api: the REST routes of heraldd (DESIGN.md §4). Handlers run on the HTTP server's worker pool and
// may block on Redis (with timeouts); they never run on an I/O thread.
#pragma once

#include <set>
#include <string>

#include "core/clock.h"
#include "core/content_gate.h"
#include "core/item.h"
#include "queue/audit_log.h"
#include "queue/delivery_queue.h"
#include "queue/item_store.h"
#include "queue/redis.h"
#include "services/common/http_server.h"
#include "services/heraldd/auth.h"

namespace herald {

// Approvals an item needs before it is queued (review.approvals_required).
struct ReviewPolicy {
  int publication = 2;
  int alert = 2;
};

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

class Api {
 public:
  explicit Api(ApiDeps deps) : deps_(std::move(deps)) {}
  ServerResponse handle(const ServerRequest& request);

 private:
  ServerResponse submit_item(const ServerRequest& request, const AuthUser& user);
  ServerResponse get_item(const std::string& id);
  ServerResponse review_item(const ServerRequest& request, const std::string& id,
                             const AuthUser& user);
  ServerResponse item_audit(const std::string& id);
  ServerResponse readiness();

  ApiDeps deps_;
};

// Maps an Error onto the status and body the API answers with.
ServerResponse error_response(const Error& error);
// A refusal by the content gate: 422 with the verdict's code, message and field, and a "details"
// array with each blocked word, its field and its position (in code points).
ServerResponse gate_refusal(const GateVerdict& verdict);

}  // namespace herald
