-- item_withdraw_correction (used by queue/item_store.cpp).
-- KEYS: item (a correction), audit. ARGV: id, who, reason, now ms, audit retention s.
-- A correction still under review when the item it corrects is retracted leaves review for good,
-- as any item under review does when retracted; one already approved is left alone.
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'pending_review' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'withdrawn', 'retracted_by', ARGV[2], 'retract_reason',
  ARGV[3], 'retracted_at', ARGV[4], 'state_before_retraction', state)
audit_add(KEYS[2], 'event', 'withdrawn', 'who', ARGV[2], 'at', ARGV[4], 'reason',
  ARGV[3], 'state_before', state)
redis.call('EXPIRE', KEYS[2], ARGV[5])
return 1
