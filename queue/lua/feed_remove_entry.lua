-- feed_remove_entry (used by queue/redis_feed_store.cpp).
-- KEYS: steps, entries, index, version. ARGV: step, entry id, steps ttl (s).
-- Returns 1 when the entry was removed now, 0 otherwise.
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
local removed = redis.call('ZREM', KEYS[3], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[2])
if removed == 1 then redis.call('INCR', KEYS[4]) end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return removed
