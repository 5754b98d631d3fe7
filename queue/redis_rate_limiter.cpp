#include "queue/redis_rate_limiter.h"
#include "queue/lua_scripts.h"

namespace herald {
namespace {

const RedisScript kAcquire("rate_limit_acquire", std::string(lua::kRateLimitAcquire));

}  // namespace

RedisRateLimiter::RedisRateLimiter(std::string prefix, RedisPool& pool, const Clock& clock)
    : prefix_(std::move(prefix)), pool_(pool), clock_(clock) {}

Result<std::chrono::milliseconds> RedisRateLimiter::try_acquire(const std::string& key, int limit,
                                                                std::chrono::milliseconds window) {
  if (limit <= 0 || window.count() <= 0) return Error::permanent("rate limit must be positive");
  auto conn = pool_.acquire();
  if (!conn) return conn.error();
  const auto pinned = clock_.pinned_ms();
  auto reply = kAcquire.run(**conn, {prefix_ + "{rl:" + key + "}:"},
                            {std::to_string(limit), std::to_string(window.count()),
                             pinned ? std::to_string(*pinned) : std::string()});
  if (!reply) return reply.error();
  if (reply->is_error()) return Error::retryable("rate limit: " + reply->str);
  return std::chrono::milliseconds(reply->integer);
}

}  // namespace herald
