-- rate_limit_acquire (used by queue/redis_rate_limiter.cpp).
-- The window is found by Redis's clock (TIME) unless the caller pins it, so heraldd hosts whose
-- clocks disagree still share one window and one budget.
-- KEYS[1] the key's prefix (a window's counter is KEYS[1] .. window start ms, in the same slot).
-- ARGV: limit, window ms, pinned now ms ('' = TIME).
-- Returns 0 when a unit was taken, else the ms to wait.
local now = tonumber(queue_now(ARGV[3]))
local window = tonumber(ARGV[2])
local start = now - now % window
local remaining = start + window - now
local key = KEYS[1] .. string.format('%d', start)
local used = tonumber(redis.call('GET', key) or '0')
if used >= tonumber(ARGV[1]) then return remaining end
redis.call('INCR', key)
redis.call('PEXPIRE', key, remaining)
return 0
