// Api: the REST routes of heraldd (DESIGN.md §4). Handlers run on the HTTP server's worker pool and
// may block on Redis (with timeouts); they never run on an I/O thread.
#pragma once

#include <set>
#include <string>

#include "core/clock.h"
#include "core/item.h"
#include "queue/delivery_queue.h"
#include "queue/item_store.h"
#include "queue/redis.h"
#include "services/common/http_server.h"
#include "services/heraldd/auth.h"

namespace herald {

struct ApiDeps {
  RedisPool& redis;
  ItemStore& items;
  DeliveryQueue& queue;
  const Authenticator& auth;
  const Clock& clock;
  std::set<std::string> channels;  // enabled channels: what an item may name
  ItemLimits limits;
};

class Api {
 public:
  explicit Api(ApiDeps deps) : deps_(std::move(deps)) {}
  ServerResponse handle(const ServerRequest& request);

 private:
  ServerResponse submit_item(const ServerRequest& request, const AuthUser& user);
  ServerResponse get_item(const std::string& id);
  ServerResponse readiness();

  ApiDeps deps_;
};

// Maps an Error onto the status and body the API answers with.
ServerResponse error_response(const Error& error);

}  // namespace herald
