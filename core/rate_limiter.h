// RateLimiter: a posting limit shared by every heraldd instance (implemented in Redis by queue/),
// e.g. Weibo's per-account 30 posts an hour. Adapters see only this interface.
#pragma once

#include <chrono>
#include <string>

#include "core/result.h"

namespace herald {

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Takes one unit of `key`'s budget of `limit` per `window`. Returns 0 when taken, else how long
  // to wait before the budget allows one more (nothing is taken then). Redis errors come back as
  // retryable errors.
  virtual Result<std::chrono::milliseconds> try_acquire(const std::string& key, int limit,
                                                        std::chrono::milliseconds window) = 0;
};

}  // namespace herald
