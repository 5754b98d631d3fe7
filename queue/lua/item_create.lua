-- item_create (used by queue/item_store.cpp).
-- KEYS: item, by_time, idem, audit, corrections of the corrected item (a correction only).
-- ARGV: id, json, author, created_ms, use_idem, idem_value, ttl, kind, audit retention s,
-- corrected item id ('' for an original).
if ARGV[5] == '1' then
  local prev = redis.call('GET', KEYS[3])
  if prev then return {'dup', prev} end
  redis.call('SET', KEYS[3], ARGV[6], 'EX', ARGV[7])
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists', ''} end
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'state', 'pending_review', 'author', ARGV[3],
           'created_at', ARGV[4], 'kind', ARGV[8])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
if ARGV[10] ~= '' then redis.call('SADD', KEYS[5], ARGV[1]) end
audit_add(KEYS[4], 'event', 'submitted', 'who', ARGV[3], 'at', ARGV[4])
redis.call('EXPIRE', KEYS[4], ARGV[9])
return {'created', ''}
