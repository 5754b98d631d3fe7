-- feed_put_cap (used by queue/redis_feed_store.cpp).
-- KEYS: steps, cap document, chain. ARGV: step, document JSON, reference, steps ttl (s).
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('RPUSH', KEYS[3], ARGV[3])
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
