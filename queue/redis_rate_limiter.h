// RedisRateLimiter: RateLimiter in Redis, so every heraldd on the same Redis shares one budget.
// Fixed windows aligned to the epoch (an hourly window resets on the hour, as Weibo's does).
#pragma once

#include <memory>
#include <string>

#include "core/clock.h"
#include "core/rate_limiter.h"
#include "queue/redis.h"

namespace herald {

class RedisRateLimiter final : public RateLimiter {
 public:
  RedisRateLimiter(std::string prefix, RedisPool& pool, const Clock& clock);
  Result<std::chrono::milliseconds> try_acquire(const std::string& key, int limit,
                                                std::chrono::milliseconds window) override;

 private:
  std::string prefix_;
  RedisPool& pool_;
  const Clock& clock_;
};

}  // namespace herald
