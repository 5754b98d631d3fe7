-- stats_import_item (used by queue/stats_store.cpp).
-- An imported item. KEYS[1] item hash, KEYS[2] by_time, KEYS[3] audit stream. ARGV[1] id,
-- ARGV[2] json, ARGV[3] who, ARGV[4] published ms, ARGV[5] kind, ARGV[6] audit retention s,
-- ARGV[7] now ms. Returns 1 if created, 0 if it existed (an earlier import of the same record).
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'state', 'published', 'author', ARGV[3],
  'created_at', ARGV[4], 'kind', ARGV[5], 'imported', '1', 'imported_at', ARGV[7])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
audit_add(KEYS[3], 'event', 'imported', 'who', ARGV[3], 'at', ARGV[7],
  'published_at', ARGV[4])
redis.call('EXPIRE', KEYS[3], ARGV[6])
return 1
