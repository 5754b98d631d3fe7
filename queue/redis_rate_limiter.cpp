#include "queue/redis_rate_limiter.h"

namespace herald {
namespace {

// The window is found by Redis's clock (TIME) unless the caller pins it, so heraldd hosts whose
// clocks disagree still share one window and one budget.
// KEYS[1] the key's prefix (a window's counter is KEYS[1] .. window start ms, in the same slot).
// ARGV: limit, window ms, pinned now ms ('' = TIME).
// Returns 0 when a unit was taken, else the ms to wait.
const RedisScript kAcquire("rate_limit_acquire", R"lua(
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local window = tonumber(ARGV[2])
local start = now - now % window
local remaining = start + window - now
local key = KEYS[1] .. string.format('%d', start)
local used = tonumber(redis.call('GET', key) or '0')
if used >= tonumber(ARGV[1]) then return remaining end
redis.call('INCR', key)
redis.call('PEXPIRE', key, remaining)
return 0
)lua");

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
