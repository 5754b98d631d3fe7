-- token_cache_release (used by queue/redis_token_cache.cpp).
-- KEYS[1] the lock. ARGV[1] its owner's token: a holder whose lock expired and was taken by
-- another instance must not delete the new holder's lock.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
