-- item_review (used by queue/item_store.cpp).
-- KEYS: item, approvals, fanout, audit, the corrected item (the item itself for an original).
-- ARGV: id, user, decision, comment, now ms, required for a publication, required for an alert,
-- audit retention s, '1' for a correction.
-- Returns {status, approvals so far, required}: status is the new state, or the refusal.
-- A correction of an item retracted meanwhile is not approved: it would publish it again (a CAP
-- Update after the Cancel, a new post on Weibo or WeChat).
local f = redis.call('HMGET', KEYS[1], 'state', 'author', 'kind')
if not f[1] then return {'not_found', 0, 0} end
local required = tonumber(ARGV[6])
if f[3] == 'alert' then required = tonumber(ARGV[7]) end
local entries = redis.call('LRANGE', KEYS[2], 0, -1)
local approvals = 0
for _, raw in ipairs(entries) do
  local e = cjson.decode(raw)
  if e.user == ARGV[2] then return {'already_reviewed', 0, required} end
  if e.decision == 'approve' then approvals = approvals + 1 end
end
if f[1] ~= 'pending_review' then return {'not_pending', approvals, required, f[1]} end
if f[2] == ARGV[2] then return {'self_approval', approvals, required} end
if ARGV[9] == '1' and ARGV[3] == 'approve' then
  local original = redis.call('HGET', KEYS[5], 'state')
  if original == 'retracted' or original == 'withdrawn' then
    return {'original_retracted', approvals, required, original}
  end
end
local now = ARGV[5]
redis.call('RPUSH', KEYS[2], cjson.encode({user = ARGV[2], decision = ARGV[3],
  comment = ARGV[4], at = tonumber(now)}))
local event = 'approval'
if ARGV[3] == 'reject' then event = 'rejection' end
audit_add(KEYS[4], 'event', event, 'who', ARGV[2], 'at', now, 'decision', ARGV[3],
  'comment', ARGV[4])
local state = 'pending_review'
if ARGV[3] == 'reject' then
  state = 'rejected'
else
  approvals = approvals + 1
  if approvals >= required then
    state = 'approved'
    -- The fan-out is pending from this very step: if this heraldd dies now, recovery does it.
    redis.call('ZADD', KEYS[3], now, ARGV[1])
  end
end
if state ~= 'pending_review' then
  redis.call('HSET', KEYS[1], 'state', state)
  audit_add(KEYS[4], 'event', state, 'who', ARGV[2], 'at', now)
end
redis.call('EXPIRE', KEYS[4], ARGV[8])
return {state, approvals, required}
