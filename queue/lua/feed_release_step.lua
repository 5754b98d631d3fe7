-- feed_release_step (used by queue/redis_feed_store.cpp).
-- KEYS: the hold. ARGV: the holder. Ends the hold only if the holder still has it.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
