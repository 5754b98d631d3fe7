#include "queue/redis_rate_limiter.h"

namespace herald {
namespace {

// KEYS[1] the window's counter. ARGV: limit, ms until the window ends.
// Returns 0 when a unit was taken, else the ms to wait.
const RedisScript kAcquire("rate_limit_acquire", R"lua(
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= tonumber(ARGV[1]) then return tonumber(ARGV[2]) end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 0
)lua");

}  // namespace

RedisRateLimiter::RedisRateLimiter(std::string prefix, RedisPool& pool, const Clock& clock)
    : prefix_(std::move(prefix)), pool_(pool), clock_(clock) {}

Result<std::chrono::milliseconds> RedisRateLimiter::try_acquire(const std::string& key, int limit,
                                                                std::chrono::milliseconds window) {
  if (limit <= 0 || window.count() <= 0) return Error::permanent("rate limit must be positive");
  const std::int64_t now = clock_.now_ms();
  const std::int64_t window_start = now - now % window.count();
  const std::int64_t remaining = window_start + window.count() - now;
  auto conn = pool_.acquire();
  if (!conn) return conn.error();
  auto reply = kAcquire.run(**conn, {prefix_ + "{rl:" + key + "}:" + std::to_string(window_start)},
                            {std::to_string(limit), std::to_string(remaining)});
  if (!reply) return reply.error();
  if (reply->is_error()) return Error::retryable("rate limit: " + reply->str);
  return std::chrono::milliseconds(reply->integer);
}

}  // namespace herald
