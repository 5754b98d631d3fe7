-- token_cache_invalidate (used by queue/redis_token_cache.cpp).
-- KEYS[1] the token hash. ARGV[1] the token that failed: a newer token is kept.
if redis.call('HGET', KEYS[1], 'v') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
