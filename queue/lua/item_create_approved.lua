-- item_create_approved (used by queue/item_store.cpp).
-- create_approved: KEYS: item, by_time, idem, audit, approvals, fanout. ARGV: id, json, author,
-- created_ms, use_idem, idem_value, ttl, kind, audit retention s, record json, system,
-- reference, approvers (comma-separated), approval entries (JSON text each)...
if ARGV[5] == '1' then
  local prev = redis.call('GET', KEYS[3])
  if prev then return {'dup', prev} end
  redis.call('SET', KEYS[3], ARGV[6], 'EX', ARGV[7])
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists', ''} end
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'state', 'approved', 'author', ARGV[3],
           'created_at', ARGV[4], 'kind', ARGV[8], 'approval_record', ARGV[10])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
for i = 14, #ARGV do redis.call('RPUSH', KEYS[5], ARGV[i]) end
audit_add(KEYS[4], 'event', 'submitted', 'who', ARGV[3], 'at', ARGV[4])
-- The record itself is kept once, in the item's hash (approval_record), not again in the trail.
audit_add(KEYS[4], 'event', 'cms_approved', 'who', ARGV[3], 'at', ARGV[4],
           'system', ARGV[11], 'reference', ARGV[12], 'approvers', ARGV[13])
audit_add(KEYS[4], 'event', 'approved', 'who', ARGV[3], 'at', ARGV[4])
redis.call('ZADD', KEYS[6], ARGV[4], ARGV[1])
redis.call('EXPIRE', KEYS[4], ARGV[9])
return {'created', ''}
