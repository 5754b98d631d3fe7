-- complete: applies a batch of outcomes for ONE channel. A completion applies only while its
-- delivery is in flight under the same lease token; otherwise it is stale (the lease expired and
-- the delivery was reclaimed, or it was already completed) and changes nothing, so a delivery
-- is tallied at most once. The lease_token field exists only while the delivery is in flight
-- (claim sets it; complete and reclaim delete it), so a matching token proves it is in flight.
-- KEYS[1] inflight, KEYS[2] timed, KEYS[3] dead, KEYS[4] tally hash of the year of ARGV[2],
-- KEYS[5] wake:alert, KEYS[6] wake, KEYS[7] failed hash of the year of ARGV[2], KEYS[8] firstpub
-- (ZSET of publications whose item count is pending, see queue/stats_store.h), KEYS[9] and
-- KEYS[10] the month rollups of KEYS[4] and KEYS[7] (same fields with the month for the day),
-- KEYS[10+i] ledger hash of completion i.
-- Counting (queue/stats_store.h): a drill (ledger exercise = '1') is never counted; a counted
-- publication or alert also goes into firstpub in this same step, so its item is counted later by
-- the {items} script even if this process dies right after the ack; a delivery counts as failed
-- once, at its first dead letter (failed_at stays in the ledger through replays).
-- ARGV[1] now ms, ARGV[2] day "yyyy-mm-dd" (office time zone), ARGV[3] max_attempts, ARGV[4]
-- audit stream prefix "<p>{<ch>}:audit:" (streams named from it stay in the slot), ARGV[5] audit
-- retention s, then 8 per completion: id, lease token, outcome ('published'|'retry'|'dead'),
-- remote_id, error code, error message, retry_at ms, counted ('1' tallies a publication, '0' not).
-- Returns one integer per completion: 0 stale, 1 applied, 2 applied but a retry was buried
-- because the delivery had used max_attempts.
local now = ARGV[1]
local day = ARGV[2]
local max_attempts = tonumber(ARGV[3])
local function audit(id, ...)
  local key = ARGV[4] .. id
  redis.call('XADD', key, '*', 'at', now, ...)
  redis.call('EXPIRE', key, ARGV[5])
end
local out = {}
local done, retries, buried = {}, {}, {}
local counts, failed_counts, firstpub = {}, {}, {}
local function field_of(f)
  local field = day .. '|' .. (f[2] or '') .. '|' .. (f[3] or '')
  if f[8] and f[8] ~= '' then field = field .. '|' .. f[8] end
  return field
end
local wake_alert, wake_routine = false, false
for i = 1, #KEYS - 10 do
  local key = KEYS[10 + i]
  local b = 5 + (i - 1) * 8
  local id, token, outcome = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local result = 0
  local f = redis.call('HMGET', key, 'lease_token', 'category', 'kind', 'attempts', 'lane',
    'lease_owner', 'exercise', 'level', 'failed_at')
  local drill = f[7] == '1'
  if f[1] == token then
    local who = f[6] or ''
    done[#done + 1] = id
    if outcome == 'published' then
      redis.call('HSET', key, 'state', 'published', 'remote_id', ARGV[b + 4], 'published_at', now,
        'updated_at', now)
      -- The ledger entry stays for audit and dedup; what only a pending delivery needs goes.
      redis.call('HDEL', key, 'lease_owner', 'lease_token', 'attempt_started_at', 'payload',
        'next_attempt_at')
      if ARGV[b + 8] == '1' and not drill then
        local field = field_of(f)
        counts[field] = (counts[field] or 0) + 1
        if f[3] == 'publication' or f[3] == 'alert' then
          firstpub[#firstpub + 1] = now
          firstpub[#firstpub + 1] = id
        end
      else
        redis.call('HSET', key, 'not_counted', '1')
      end
      audit(id, 'event', 'published', 'who', who, 'remote_id', ARGV[b + 4], 'attempt', f[4] or '0')
      result = 1
    elseif outcome == 'retry' and tonumber(f[4] or '0') < max_attempts then
      local at = ARGV[b + 7]
      retries[#retries + 1] = at
      retries[#retries + 1] = id
      redis.call('HSET', key, 'state', 'retry_wait', 'last_error', ARGV[b + 6], 'last_error_code',
        ARGV[b + 5], 'next_attempt_at', at, 'updated_at', now)
      redis.call('HDEL', key, 'lease_owner', 'lease_token', 'attempt_started_at')
      if f[5] == 'alert' then wake_alert = true else wake_routine = true end
      audit(id, 'event', 'retry', 'who', who, 'error_code', ARGV[b + 5], 'error', ARGV[b + 6],
        'attempt', f[4] or '0', 'next_attempt_at', at)
      result = 1
    else
      buried[#buried + 1] = now
      buried[#buried + 1] = id
      redis.call('HSET', key, 'state', 'dead', 'last_error', ARGV[b + 6], 'last_error_code',
        ARGV[b + 5], 'dead_at', now, 'updated_at', now)
      redis.call('HDEL', key, 'lease_owner', 'lease_token', 'attempt_started_at', 'next_attempt_at')
      if not drill and not f[9] then
        redis.call('HSET', key, 'failed_at', now)
        local field = field_of(f)
        failed_counts[field] = (failed_counts[field] or 0) + 1
      end
      audit(id, 'event', 'dead', 'who', who, 'error_code', ARGV[b + 5], 'error', ARGV[b + 6],
        'attempt', f[4] or '0')
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
    redis.call('HINCRBY', months, string.sub(field, 1, 7) .. string.sub(field, 11), n)
  end
end
count(KEYS[4], KEYS[9], counts)
count(KEYS[7], KEYS[10], failed_counts)
if #firstpub > 0 then redis.call('ZADD', KEYS[8], unpack(firstpub)) end
-- A sleeping worker computed its timeout before this retry existed: wake one to look again.
if wake_alert and redis.call('LLEN', KEYS[5]) == 0 then redis.call('RPUSH', KEYS[5], '1') end
if wake_routine and redis.call('LLEN', KEYS[6]) == 0 then redis.call('RPUSH', KEYS[6], '1') end
return out
