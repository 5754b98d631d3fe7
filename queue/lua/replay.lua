-- replay: moves a dead delivery back to the tail of its lane with a fresh attempt budget.
-- KEYS[1] ledger hash, KEYS[2] dead, KEYS[3] alert lane, KEYS[4] routine lane,
-- KEYS[5] wake:alert, KEYS[6] wake, KEYS[7] audit stream. ARGV[1] pinned now ms ('' = TIME), ARGV[2] id, ARGV[3]
-- audit retention s, ARGV[4] who asked.
-- Returns 'ok', 'not_found' or 'not_dead'.
local f = redis.call('HMGET', KEYS[1], 'state', 'lane')
if not f[1] then return 'not_found' end
if f[1] ~= 'dead' then return 'not_dead' end
local now = queue_now(ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[1], 'state', 'queued', 'attempts', 0, 'replayed_at', now, 'queued_at', now,
  'updated_at', now)
-- maybe_sent stays: a replay of a delivery that may have gone out looks before it sends.
redis.call('HDEL', KEYS[1], 'next_attempt_at', 'dead_at', 'lookup_only', 'deferred_since')
local lane, wake = KEYS[4], KEYS[6]
if f[2] == 'alert' then lane, wake = KEYS[3], KEYS[5] end
redis.call('RPUSH', lane, ARGV[2])
if redis.call('LLEN', wake) == 0 then redis.call('RPUSH', wake, '1') end
audit_add(KEYS[7], 'at', now, 'event', 'replayed', 'who', ARGV[4])
redis.call('EXPIRE', KEYS[7], ARGV[3])
return 'ok'
