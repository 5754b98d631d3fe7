-- feed_write_entry (used by queue/redis_feed_store.cpp).
-- KEYS: steps, entries, index, version, alias.
-- ARGV: step, entry id, entry JSON, score (ms), max entries, item id, steps ttl (s).
-- Returns 1 when written, 0 when the delivery had already written this feed.
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
local extra = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[5])
if extra > 0 then
  local old = redis.call('ZRANGE', KEYS[3], 0, extra - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, extra - 1)
  for _, id in ipairs(old) do redis.call('HDEL', KEYS[2], id) end
end
redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[5], ARGV[6], ARGV[2])
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[7])
return 1
