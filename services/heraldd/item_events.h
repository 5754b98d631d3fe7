// GET /v1/items/{id}/events: an item's page kept up to date without reloading, as server-sent
// events. On connect and at every change of the item or of any of its deliveries, one
// `event: item` whose data is exactly the JSON of GET /v1/items/{id}; a comment line every 15 s
// keeps proxies from closing a quiet stream.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "services/heraldd/routes.h"

namespace herald {

// What GET /v1/items/{id} answers, for the item `id`.
using ItemReader = std::function<ServerResponse(const std::string& id)>;

struct ItemEventTiming {
  // How often an open stream reads the item. Polling rather than a notification from the
  // dispatchers: a change can come from any heraldd and from any delivery, and publishing a
  // notification on every ledger write would cost Redis work per delivery on the hot path even
  // with no one watching. One read of the item per open stream per interval costs nothing when no
  // page is open and is bounded by the server's stream cap when many are.
  std::chrono::milliseconds poll{750};
  std::chrono::milliseconds heartbeat{15000};
};

class ItemEventRoutes : public RouteGroup {
 public:
  explicit ItemEventRoutes(ItemReader read_item, ItemEventTiming timing = {})
      : read_item_(std::move(read_item)), timing_(timing) {}
  std::optional<ServerResponse> handle(const ServerRequest& request, const AuthUser* user) override;

 private:
  ItemReader read_item_;
  ItemEventTiming timing_;
};

}  // namespace herald
