-- platform_settle_dead (used by queue/platform_ledger.cpp).
-- KEYS[1] ledger, KEYS[2] dead set, KEYS[3] tally hash of the year of ARGV[5], KEYS[4] its month
-- rollup, KEYS[5] failed hash of the year of ARGV[6] (any failed hash of the channel when ARGV[6]
-- is ''), KEYS[6] its month rollup, KEYS[7] firstpub, KEYS[8] audit stream. ARGV[1] now ms,
-- ARGV[2] delivery id, ARGV[3] remote id, ARGV[4] published ms, ARGV[5] published day, ARGV[6]
-- the day it died ('' when it was never counted failed), ARGV[7] failed_at as read ('' if none),
-- ARGV[8] who, ARGV[9] audit retention s.
-- The counter fields and rollups are complete.lua's: "<day>|<category>|<kind>[|<level>]", the
-- month rollup the same with "<yyyy-mm>". Returns 'ok', 'not_found', 'not_dead' or 'changed'.
local f = redis.call('HMGET', KEYS[1], 'state', 'category', 'kind', 'level', 'exercise',
  'failed_at', 'item_id')
if not f[1] then return 'not_found' end
if f[1] ~= 'dead' then return 'not_dead' end
if (f[6] or '') ~= ARGV[7] then return 'changed' end
local function field(day) return counter_field(day, f[2], f[3], f[4]) end
local function add(hash, months, fld, n)
  redis.call('HINCRBY', hash, fld, n)
  redis.call('HINCRBY', months, month_field(fld), n)
end
local now = ARGV[1]
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[1], 'state', 'published', 'remote_id', ARGV[3], 'published_at', ARGV[4],
  'updated_at', now, 'reconciled_at', now)
redis.call('HDEL', KEYS[1], 'lease_owner', 'lease_token', 'attempt_started_at', 'payload',
  'next_attempt_at', 'maybe_sent', 'lookup_only', 'deferred_since', 'dead_at', 'failed_at')
if f[5] == '1' then
  redis.call('HSET', KEYS[1], 'not_counted', '1')
else
  if ARGV[6] ~= '' then add(KEYS[5], KEYS[6], field(ARGV[6]), -1) end
  add(KEYS[3], KEYS[4], field(ARGV[5]), 1)
  if f[3] == 'publication' or f[3] == 'alert' then
    -- The member as complete.lua writes it: settling it reads no ledger.
    redis.call('ZADD', KEYS[7], ARGV[4],
      table.concat({ARGV[2], f[7] or '', f[2] or '', f[3] or '', f[4] or ''}, '|'))
  end
end
audit_add(KEYS[8], 'at', now, 'event', 'reconciled', 'who', ARGV[8],
  'remote_id', ARGV[3], 'published_at', ARGV[4], 'was', 'dead')
redis.call('EXPIRE', KEYS[8], ARGV[9])
return 'ok'
