-- heartbeat: extends the leases this owner still holds (the token matches). A lease that was
-- reclaimed has a new token, so the old owner can no longer keep it alive.
-- KEYS[1] inflight, KEYS[1+i] ledger hash of delivery i.
-- ARGV[1] new deadline ms, then id, token per delivery. Returns how many were extended.
local extended = 0
for i = 1, #KEYS - 1 do
  local id, token = ARGV[2 * i], ARGV[2 * i + 1]
  if redis.call('ZSCORE', KEYS[1], id) and redis.call('HGET', KEYS[1 + i], 'lease_token') == token then
    redis.call('ZADD', KEYS[1], 'XX', ARGV[1], id)
    extended = extended + 1
  end
end
return extended
