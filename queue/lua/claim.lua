-- claim: one atomic step per call, for ONE channel:
--   1. promote due timed deliveries (scheduled publish_at, retries) to the tail of their lane;
--   2. put deliveries whose lease expired back at the HEAD of their lane (attempts kept, marked
--      maybe_sent; past max_attempts only to look, lookup_only; a delivery that used twice
--      max_attempts is buried, so one that kills its worker every time cannot loop forever);
--   3. pop up to max_alert alerts and, only if the alert lane is then empty, up to max_routine
--      routine deliveries, never more than max_total in all, and lease each one under a fresh
--      token.
-- KEYS[1] alert lane, KEYS[2] routine lane, KEYS[3] timed, KEYS[4] inflight, KEYS[5] dead,
-- KEYS[6] wake:alert, KEYS[7] wake, KEYS[8] lease sequence (a counter that makes every token
-- unique even if two processes' random generators ever agree, e.g. after a fork).
-- ARGV[1] pinned now ms ('' = TIME), ARGV[2] lease ms, ARGV[3] owner, ARGV[4] max_alert,
-- ARGV[5] max_routine, ARGV[6] ledger key prefix "<p>{<ch>}:d:", ARGV[7] move limit (promotions and reclaims per
-- call), ARGV[8] max_attempts, ARGV[9] audit list prefix "<p>{<ch>}:log:", ARGV[10] audit
-- retention s, ARGV[11] failed hash of the year of ARGV[12], ARGV[12] day "yyyy-mm-dd" (office
-- time zone; a burial counts as failed, once per delivery, as in complete.lua), ARGV[13]
-- max_total, ARGV[14..] one random lease token per possible claim.
--
-- Cluster note: the ids of the deliveries this script touches come out of the lists and sets, so
-- their ledger keys (and audit lists, from ARGV[9]) cannot be declared in KEYS. They are built here from ARGV[6], which carries
-- the same {<ch>} hash tag as every declared key, so the script still touches a single slot.
-- The failed hash (ARGV[11], written only on a burial) and its month rollup (ARGV[11] .. ':months')
-- carry that hash tag too.
--
-- Returns { ms until the next due moment or -1, then 11 per claimed delivery:
--           id, item_id, lane, category, kind, payload ('' if none is stored: an item's
--           publication, whose body the caller reads from the item), attempts, lease token, maybe_sent ('1' or
--           ''), lookup_only ('1' or ''), cancel_requested ('1' or '': a retraction marked it
--           while an earlier holder had it, so the worker cancels it instead of publishing) }.
local now_s = queue_now(ARGV[1])
local now = tonumber(now_s)
local lease = tonumber(ARGV[2])
local owner = ARGV[3]
local max_alert = tonumber(ARGV[4])
local max_routine = tonumber(ARGV[5])
local dkey = ARGV[6]
local limit = tonumber(ARGV[7])
local max_attempts = tonumber(ARGV[8])
local audit_prefix = ARGV[9]
local retention = ARGV[10]
local kTokenBase = 13

-- The delivery's audit trail, written in the step that makes the change it records.
local function audit(id, ...)
  local key = audit_prefix .. id
  audit_add(key, 'at', now_s, ...)
  redis.call('EXPIRE', key, retention)
end

local function lane_key(lane)
  if lane == 'alert' then return KEYS[1] end
  return KEYS[2]
end

-- 1. Promote.
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now_s, 'LIMIT', 0, limit)
if #due > 0 then
  local to_lane = { alert = {}, routine = {} }
  for _, id in ipairs(due) do
    local key = dkey .. id
    local f = redis.call('HMGET', key, 'state', 'lane')
    -- Anything else (no ledger, cancelled) is just dropped from the set, never left to loop.
    if f[1] == 'scheduled' or f[1] == 'retry_wait' then
      redis.call('HSET', key, 'state', 'queued', 'queued_at', now_s, 'updated_at', now_s)
      if f[1] == 'retry_wait' then redis.call('HDEL', key, 'next_attempt_at') end
      local ids = to_lane[f[2]] or to_lane.routine
      ids[#ids + 1] = id
    end
  end
  if #to_lane.alert > 0 then redis.call('RPUSH', KEYS[1], unpack(to_lane.alert)) end
  if #to_lane.routine > 0 then redis.call('RPUSH', KEYS[2], unpack(to_lane.routine)) end
  redis.call('ZREM', KEYS[3], unpack(due))
end

-- 2. Reclaim. Walk backwards so the lease that expired first ends up at the very head.
local expired = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', '(' .. now_s, 'LIMIT', 0, limit)
if #expired > 0 then
  for i = #expired, 1, -1 do
    local id = expired[i]
    local key = dkey .. id
    local f = redis.call('HMGET', key, 'state', 'lane', 'attempts', 'lease_owner', 'category',
      'kind', 'level', 'exercise', 'failed_at')
    if f[1] == 'in_flight' then
      local why = 'lease of ' .. (f[4] or '?') .. ' expired'
      redis.call('HDEL', key, 'lease_owner', 'lease_token', 'attempt_started_at')
      -- The worker died (or stalled) during its call: the platform may have acted on it, so
      -- the next attempt looks before it sends. Out of attempts, the next ones only look
      -- (lookup_only): burying a delivery the platform may hold would count it failed while it
      -- is public. A delivery that keeps losing its lease even while only looking (it kills its
      -- worker) is buried after max_attempts more.
      redis.call('HSET', key, 'maybe_sent', '1')
      local attempts = tonumber(f[3] or '0')
      if attempts >= max_attempts then redis.call('HSET', key, 'lookup_only', '1') end
      if attempts >= 2 * max_attempts then
        redis.call('HSET', key, 'state', 'dead', 'last_error', why, 'last_error_code',
          'lease_expired', 'dead_at', now_s, 'updated_at', now_s)
        redis.call('ZADD', KEYS[5], now_s, id)
        if f[8] ~= '1' and not f[9] then
          local field = counter_field(ARGV[12], f[5], f[6], f[7])
          redis.call('HSET', key, 'failed_at', now_s)
          redis.call('HINCRBY', ARGV[11], field, 1)
          redis.call('HINCRBY', ARGV[11] .. ':months', month_field(field), 1)
        end
        audit(id, 'event', 'dead', 'who', f[4] or '', 'error_code', 'lease_expired', 'error', why)
      else
        redis.call('HSET', key, 'state', 'queued', 'queued_at', now_s, 'updated_at', now_s,
          'last_error', why, 'last_error_code', 'lease_expired')
        redis.call('LPUSH', lane_key(f[2]), id)
        audit(id, 'event', 'lease_expired', 'who', f[4] or '', 'error', why)
      end
    end
  end
  redis.call('ZREM', KEYS[4], unpack(expired))
end

-- 3. Claim. Per delivery: one HMGET and one HSET; the pops and the inflight ZADD are batched.
local out = { -1 }
local tokens_used = 0
local seq = nil
local deadline = now + lease
local leased = {}
local function take(list_key, max)
  local got = 0
  while got < max do
    local ids = redis.call('LPOP', list_key, max - got)
    if not ids then break end
    for _, id in ipairs(ids) do
      local key = dkey .. id
      local f = redis.call('HMGET', key, 'state', 'item_id', 'lane', 'category', 'kind', 'payload',
        'attempts', 'maybe_sent', 'lookup_only', 'cancel_requested')
      -- An id whose ledger says it is not waiting (gone, cancelled) is dropped, not claimed.
      if f[1] == 'queued' then
        tokens_used = tokens_used + 1
        if not seq then seq = redis.call('INCR', KEYS[8]) end
        local token = ARGV[kTokenBase + tokens_used] .. '.' .. seq .. '.' .. tokens_used
        local attempts = tonumber(f[7] or '0') + 1
        redis.call('HSET', key, 'state', 'in_flight', 'attempts', attempts, 'lease_owner', owner,
          'lease_token', token, 'attempt_started_at', now_s, 'updated_at', now_s)
        audit(id, 'event', 'attempt', 'who', owner, 'attempt', attempts)
        leased[#leased + 1] = deadline
        leased[#leased + 1] = id
        local n = #out
        out[n + 1] = id
        out[n + 2] = f[2] or ''
        out[n + 3] = f[3] or 'routine'
        out[n + 4] = f[4] or ''
        out[n + 5] = f[5] or ''
        out[n + 6] = f[6] or ''
        out[n + 7] = attempts
        out[n + 8] = token
        out[n + 9] = f[8] or ''
        out[n + 10] = f[9] or ''
        out[n + 11] = f[10] and '1' or ''
        got = got + 1
      end
    end
  end
end
local max_total = tonumber(ARGV[13])
take(KEYS[1], math.min(max_alert, max_total))
local alerts_left = redis.call('LLEN', KEYS[1])
if alerts_left == 0 then take(KEYS[2], math.min(max_routine, max_total - #leased / 2)) end
local routine_left = redis.call('LLEN', KEYS[2])
if #leased > 0 then redis.call('ZADD', KEYS[4], unpack(leased)) end

-- Work is left: make sure a token is there, so another idle worker wakes and helps.
if alerts_left > 0 and redis.call('LLEN', KEYS[6]) == 0 then redis.call('RPUSH', KEYS[6], '1') end
if routine_left > 0 and redis.call('LLEN', KEYS[7]) == 0 then redis.call('RPUSH', KEYS[7], '1') end

local next_due = -1
local t = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
if #t > 0 then next_due = tonumber(t[2]) end
local l = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
if #l > 0 then
  local s = tonumber(l[2])
  if next_due < 0 or s < next_due then next_due = s end
end
if next_due >= 0 then next_due = math.max(0, next_due - now) end
out[1] = next_due
return out
