-- cancel: stops ONE delivery that has not been published (a retraction). One atomic step:
--   waiting (queued, scheduled, retry_wait) or dead → removed from its lane / timed / dead set,
--     state 'cancelled' (a dead letter is cancelled too, so a replay can never publish it);
--   in flight → only marked 'cancel_requested': the worker that holds it checks the mark right
--     before publishing and cancels it then (mode 'claimed' below); if it has already started,
--     it publishes and the retraction recalls it;
--   published or cancelled → left alone;
--   no ledger yet → a 'cancelled' tombstone, so a fan-out that runs later (recovery after a
--     crash) finds the id taken and never queues it (enqueue leaves existing ledgers alone).
-- Mode 'claimed': the dispatcher cancels a delivery it holds, by lease token (stale otherwise).
-- KEYS[1] ledger hash, KEYS[2] alert lane, KEYS[3] routine lane, KEYS[4] timed, KEYS[5] dead,
-- KEYS[6] inflight, KEYS[7] audit stream.
-- ARGV[1] pinned now ms ('' = TIME), ARGV[2] id, ARGV[3] who, ARGV[4] reason, ARGV[5] audit retention s, ARGV[6]
-- mode ('request' | 'claimed'), ARGV[7] lease token (claimed), ARGV[8] item id, ARGV[9] channel
-- (both for a tombstone).
-- Returns {result, state before}: result 'cancelled', 'cancel_requested', 'published',
-- 'already_cancelled' or 'stale' (claimed mode, token no longer matches).
local now, id, who, reason = queue_now(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
local function audit(...)
  audit_add(KEYS[7], 'at', now, ...)
  redis.call('EXPIRE', KEYS[7], ARGV[5])
end
local f = redis.call('HMGET', KEYS[1], 'state', 'lane', 'lease_token', 'cancel_requested',
  'lease_owner')
local state = f[1]

local function finish(before, by)
  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'cancelled_at', now, 'updated_at', now,
    'cancel_reason', reason)
  redis.call('HDEL', KEYS[1], 'payload', 'next_attempt_at', 'lease_owner', 'lease_token',
    'attempt_started_at', 'dead_at')
  audit('event', 'cancelled', 'who', by, 'reason', reason, 'state_before', before)
  return {'cancelled', before}
end

if ARGV[6] == 'claimed' then
  if not state or state ~= 'in_flight' or f[3] ~= ARGV[7] then return {'stale', state or ''} end
  redis.call('ZREM', KEYS[6], id)
  return finish('in_flight', f[5] or who)
end

if not state then
  redis.call('HSET', KEYS[1], 'id', id, 'item_id', ARGV[8], 'channel', ARGV[9], 'attempts', 0,
    'created_at', now)
  return finish('', who)
end
if state == 'published' then return {'published', state} end
if state == 'cancelled' then return {'already_cancelled', state} end
if state == 'in_flight' then
  if not f[4] then
    redis.call('HSET', KEYS[1], 'cancel_requested', now, 'cancel_reason', reason, 'updated_at', now)
    audit('event', 'cancel_requested', 'who', who, 'reason', reason)
  end
  return {'cancel_requested', state}
end
if state == 'queued' then
  local lane = KEYS[3]
  if f[2] == 'alert' then lane = KEYS[2] end
  redis.call('LREM', lane, 1, id)
elseif state == 'scheduled' or state == 'retry_wait' then
  redis.call('ZREM', KEYS[4], id)
elseif state == 'dead' then
  redis.call('ZREM', KEYS[5], id)
end
return finish(state, who)
