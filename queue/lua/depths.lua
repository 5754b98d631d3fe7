-- depths: sizes of one channel's structures and when the oldest waiting delivery was queued
-- (read only). The oldest is looked for among the first ARGV[2] ids of each lane: reclaimed
-- deliveries go to the head, so the very first id is not always the oldest.
-- KEYS[1] alert, KEYS[2] routine, KEYS[3] timed, KEYS[4] inflight, KEYS[5] dead.
-- ARGV[1] ledger key prefix "<p>{<ch>}:d:" (same hash tag as KEYS), ARGV[2] sample size.
-- Returns { alert, routine, timed, inflight, dead, oldest queued_at ms or -1 }.
local oldest = -1
for lane = 1, 2 do
  local ids = redis.call('LRANGE', KEYS[lane], 0, tonumber(ARGV[2]) - 1)
  for _, id in ipairs(ids) do
    local q = tonumber(redis.call('HGET', ARGV[1] .. id, 'queued_at') or '')
    if q and (oldest < 0 or q < oldest) then oldest = q end
  end
end
return { redis.call('LLEN', KEYS[1]), redis.call('LLEN', KEYS[2]), redis.call('ZCARD', KEYS[3]),
  redis.call('ZCARD', KEYS[4]), redis.call('ZCARD', KEYS[5]), oldest }
