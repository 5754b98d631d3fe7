-- item_retract (used by queue/item_store.cpp).
-- KEYS: item, fanout, audit, retracting. ARGV: id, who, reason, now ms, audit retention s.
-- Returns {state, already ('1'|'0'), retracted_by, reason}, or {'not_found'|'not_retractable',
-- state}. Leaving the fan-out set stops a pending fan-out; one already running meets the
-- cancelled tombstones retract() writes next.
local f = redis.call('HMGET', KEYS[1], 'state', 'retracted_by', 'retract_reason')
if not f[1] then return {'not_found', ''} end
local state = f[1]
if state == 'retracted' or state == 'withdrawn' then
  return {state, '1', f[2] or '', f[3] or ''}
end
if state == 'rejected' then return {'not_retractable', state} end
local new_state = 'retracted'
if state == 'pending_review' then new_state = 'withdrawn' end
redis.call('HSET', KEYS[1], 'state', new_state, 'retracted_by', ARGV[2], 'retract_reason', ARGV[3],
  'retracted_at', ARGV[4], 'state_before_retraction', state)
redis.call('ZREM', KEYS[2], ARGV[1])
if new_state == 'retracted' then redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1]) end
audit_add(KEYS[3], 'event', new_state, 'who', ARGV[2], 'at', ARGV[4], 'reason',
  ARGV[3], 'state_before', state)
redis.call('EXPIRE', KEYS[3], ARGV[5])
return {new_state, '0', ARGV[2], ARGV[3]}
