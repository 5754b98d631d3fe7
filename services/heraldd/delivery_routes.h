// Dead letters: GET /v1/deliveries/dead (across the enabled channels, most recently buried first,
// cursor-paged) and POST /v1/deliveries/{id}/replay (audited with who), for admin and duty_officer.
#pragma once

#include <set>
#include <string>

#include "queue/delivery_queue.h"
#include "queue/redis.h"
#include "services/heraldd/routes.h"

namespace herald {

class DeliveryRoutes : public RouteGroup {
 public:
  DeliveryRoutes(RedisPool& redis, DeliveryQueue& queue, std::set<std::string> channels,
                 int utc_offset_minutes)
      : redis_(redis),
        queue_(queue),
        channels_(std::move(channels)),
        utc_offset_minutes_(utc_offset_minutes) {}

  std::optional<ServerResponse> handle(const ServerRequest& request, const AuthUser* user) override;

 private:
  ServerResponse list_dead(const ServerRequest& request);
  ServerResponse replay(const std::string& delivery_id, const AuthUser& user);

  RedisPool& redis_;
  DeliveryQueue& queue_;
  std::set<std::string> channels_;
  int utc_offset_minutes_;
};

}  // namespace herald
