// GET /v1/items: items newest first, filtered by state, kind, category and creation time, a page
// at a time with an opaque cursor (any role).
#pragma once

#include "queue/delivery_queue.h"
#include "queue/item_store.h"
#include "queue/redis.h"
#include "services/heraldd/routes.h"

namespace herald {

class ItemListRoutes : public RouteGroup {
 public:
  ItemListRoutes(RedisPool& redis, ItemStore& items, DeliveryQueue& queue, int utc_offset_minutes)
      : redis_(redis), items_(items), queue_(queue), utc_offset_minutes_(utc_offset_minutes) {}

  std::optional<ServerResponse> handle(const ServerRequest& request, const AuthUser* user) override;

 private:
  ServerResponse list(const ServerRequest& request);

  RedisPool& redis_;
  ItemStore& items_;
  DeliveryQueue& queue_;
  int utc_offset_minutes_;
};

}  // namespace herald
