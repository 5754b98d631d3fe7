-- token_cache_store (used by queue/redis_token_cache.cpp).
-- KEYS[1] the token hash, KEYS[2] the refresh counters. ARGV: token, expires_at ms, refresh_at ms,
-- time to live ms, counter field. Stored and counted in one step, so /metrics never counts a
-- refresh whose token was not stored.
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'exp', ARGV[2], 'ref', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('HINCRBY', KEYS[2], ARGV[5], 1)
return 1
