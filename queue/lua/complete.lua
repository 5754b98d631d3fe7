-- complete: applies a batch of outcomes for ONE channel. A completion applies only while its
-- delivery is in flight under the same lease token; otherwise it is stale (the lease expired and
-- the delivery was reclaimed, or it was already completed) and changes nothing, so a delivery
-- is tallied at most once. The lease_token field exists only while the delivery is in flight
-- (claim sets it; complete and reclaim delete it), so a matching token proves it is in flight.
-- KEYS[1] inflight, KEYS[2] timed, KEYS[3] dead, KEYS[4] tally hash of the year of ARGV[2],
-- KEYS[5] wake:alert, KEYS[6] wake, KEYS[7] failed hash of the year of ARGV[2], KEYS[8] firstpub
-- (ZSET of publications whose item count is pending, members
-- "<delivery id>|<item id>|<category>|<kind>|<level>" so that settling them reads no ledger; see
-- queue/stats_store.h), KEYS[9] and
-- KEYS[10] the month rollups of KEYS[4] and KEYS[7] (same fields with the month for the day),
-- KEYS[10+i] ledger hash of completion i.
-- Counting (queue/stats_store.h): a drill (ledger exercise = '1') is never counted; a counted
-- publication or alert also goes into firstpub in this same step, so its item is counted later by
-- the {items} script even if this process dies right after the ack; a delivery counts as failed
-- once, at its first dead letter (failed_at stays in the ledger through replays).
-- ARGV[1] pinned now ms ('' = TIME), ARGV[2] day "yyyy-mm-dd" (office time zone), ARGV[3] max_attempts, ARGV[4]
-- audit stream prefix "<p>{<ch>}:audit:" (streams named from it stay in the slot), ARGV[5] audit
-- retention s, then 10 per completion: id, lease token, outcome ('published'|'retry'|'defer'|
-- 'dead'), remote_id, error code, error message, retry delay ms (from now), counted ('1' tallies a
-- publication, '0' not), maybe_sent ('1': the attempt may have reached the platform), defer limit
-- ms (defer: how long a delivery may keep being deferred before it is buried; 0 = no limit).
-- Outcomes (DESIGN.md §3):
--   retry  spends the attempt; with maybe_sent the ledger keeps the mark, so the next attempt
--          looks on the platform first. A retry past max_attempts is buried, except one of a
--          delivery that may be on the platform (this or an earlier attempt was ambiguous): that
--          gets one more attempt marked lookup_only, which only looks and sends nothing.
--   defer  gives the attempt back (the platform said "wait", nothing was tried) and reschedules at
--          the platform's window; deferred_since marks the start of a run of deferrals, and a run
--          longer than the limit is buried with code deferred_too_long.
-- Returns one integer per completion: 0 stale, 1 applied, 2 applied but a retry was buried
-- because the delivery had used max_attempts, 3 applied but a deferral was buried because it
-- had waited longer than its limit.
local now = queue_now(ARGV[1])
local day = ARGV[2]
local max_attempts = tonumber(ARGV[3])
local function audit(id, ...)
  local key = ARGV[4] .. id
  audit_add(key, 'at', now, ...)
  redis.call('EXPIRE', key, ARGV[5])
end
local out = {}
local done, retries, buried = {}, {}, {}
local counts, failed_counts, firstpub = {}, {}, {}
local function field_of(f) return counter_field(day, f[2], f[3], f[8]) end
local wake_alert, wake_routine = false, false
local function bury(id, key, f, who, code, message)
  buried[#buried + 1] = now
  buried[#buried + 1] = id
  redis.call('HSET', key, 'state', 'dead', 'last_error', message, 'last_error_code', code,
    'dead_at', now, 'updated_at', now)
  redis.call('HDEL', key, 'lease_owner', 'lease_token', 'attempt_started_at', 'next_attempt_at',
    'deferred_since', 'lookup_only')
  if f[7] ~= '1' and not f[9] then
    redis.call('HSET', key, 'failed_at', now)
    local field = field_of(f)
    failed_counts[field] = (failed_counts[field] or 0) + 1
  end
  audit(id, 'event', 'dead', 'who', who, 'error_code', code, 'error', message, 'attempt',
    f[4] or '0')
end
local function wait_until(id, key, f, at)
  retries[#retries + 1] = at
  retries[#retries + 1] = id
  redis.call('HDEL', key, 'lease_owner', 'lease_token', 'attempt_started_at')
  if f[5] == 'alert' then wake_alert = true else wake_routine = true end
end
for i = 1, #KEYS - 10 do
  local key = KEYS[10 + i]
  local b = 5 + (i - 1) * 10
  local id, token, outcome = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local code, message = ARGV[b + 5], ARGV[b + 6]
  local at = tostring(tonumber(now) + (tonumber(ARGV[b + 7]) or 0))
  local result = 0
  local f = redis.call('HMGET', key, 'lease_token', 'category', 'kind', 'attempts', 'lane',
    'lease_owner', 'exercise', 'level', 'failed_at', 'deferred_since', 'lookup_only',
    'maybe_sent', 'item_id')
  local drill = f[7] == '1'
  if f[1] == token then
    local who = f[6] or ''
    local attempts = tonumber(f[4] or '0')
    done[#done + 1] = id
    if ARGV[b + 9] == '1' then redis.call('HSET', key, 'maybe_sent', '1') end
    if outcome == 'published' then
      redis.call('HSET', key, 'state', 'published', 'remote_id', ARGV[b + 4], 'published_at', now,
        'updated_at', now)
      -- The ledger entry stays for audit and dedup; what only a pending delivery needs goes.
      redis.call('HDEL', key, 'lease_owner', 'lease_token', 'attempt_started_at', 'payload',
        'next_attempt_at', 'maybe_sent', 'lookup_only', 'deferred_since')
      if ARGV[b + 8] == '1' and not drill then
        local field = field_of(f)
        counts[field] = (counts[field] or 0) + 1
        if f[3] == 'publication' or f[3] == 'alert' then
          firstpub[#firstpub + 1] = now
          firstpub[#firstpub + 1] = table.concat({id, f[13] or '', f[2] or '', f[3] or '',
            f[8] or ''}, '|')
        end
      else
        redis.call('HSET', key, 'not_counted', '1')
      end
      audit(id, 'event', 'published', 'who', who, 'remote_id', ARGV[b + 4], 'attempt', f[4] or '0')
      result = 1
    elseif outcome == 'defer' then
      local since = tonumber(f[10] or '') or tonumber(now)
      local limit = tonumber(ARGV[b + 10]) or 0
      if limit > 0 and tonumber(now) - since >= limit then
        bury(id, key, f, who, 'deferred_too_long', 'deferred for more than ' ..
          math.floor(limit / 1000) .. ' s; last answer: ' .. code .. ': ' .. message)
        result = 3
      else
        wait_until(id, key, f, at)
        redis.call('HSET', key, 'state', 'retry_wait', 'last_error', message, 'last_error_code',
          code, 'next_attempt_at', at, 'updated_at', now, 'deferred_since', since,
          'attempts', math.max(0, attempts - 1))
        audit(id, 'event', 'deferred', 'who', who, 'error_code', code, 'error', message,
          'attempt', f[4] or '0', 'next_attempt_at', at)
        result = 1
      end
    elseif outcome == 'retry' and (attempts < max_attempts or
        ((ARGV[b + 9] == '1' or f[12] == '1') and f[11] ~= '1')) then
      wait_until(id, key, f, at)
      redis.call('HSET', key, 'state', 'retry_wait', 'last_error', message, 'last_error_code',
        code, 'next_attempt_at', at, 'updated_at', now)
      redis.call('HDEL', key, 'deferred_since')
      local event = 'retry'
      if attempts >= max_attempts then
        redis.call('HSET', key, 'lookup_only', '1')
        event = 'final_check'
      end
      audit(id, 'event', event, 'who', who, 'error_code', code, 'error', message,
        'attempt', f[4] or '0', 'next_attempt_at', at)
      result = 1
    else
      bury(id, key, f, who, code, message)
      if outcome == 'retry' then result = 2 else result = 1 end
    end
  end
  out[i] = result
end
if #done > 0 then redis.call('ZREM', KEYS[1], unpack(done)) end
if #retries > 0 then redis.call('ZADD', KEYS[2], unpack(retries)) end
if #buried > 0 then redis.call('ZADD', KEYS[3], unpack(buried)) end
-- Each counter also goes to its month rollup: "yyyy-mm-dd|rest" counts under "yyyy-mm|rest".
local function count(hash, months, fields)
  for field, n in pairs(fields) do
    redis.call('HINCRBY', hash, field, n)
    redis.call('HINCRBY', months, month_field(field), n)
  end
end
count(KEYS[4], KEYS[9], counts)
count(KEYS[7], KEYS[10], failed_counts)
if #firstpub > 0 then redis.call('ZADD', KEYS[8], unpack(firstpub)) end
-- A sleeping worker computed its timeout before this retry existed: wake one to look again.
if wake_alert and redis.call('LLEN', KEYS[5]) == 0 then redis.call('RPUSH', KEYS[5], '1') end
if wake_routine and redis.call('LLEN', KEYS[6]) == 0 then redis.call('RPUSH', KEYS[6], '1') end
return out
