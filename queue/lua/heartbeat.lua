-- heartbeat: extends the leases this owner still holds (the token matches; lease_token exists
-- only while in flight). A reclaimed lease has a new token, so the old owner cannot keep it alive.
-- KEYS[1] inflight, KEYS[1+i] ledger hash of delivery i.
-- ARGV[1] pinned now ms ('' = TIME), ARGV[2] lease ms, then id, token per delivery. Returns how
-- many were extended.
local deadline = tostring(tonumber(queue_now(ARGV[1])) + tonumber(ARGV[2]))
local extended = {}
for i = 1, #KEYS - 1 do
  local id, token = ARGV[2 * i + 1], ARGV[2 * i + 2]
  if redis.call('HGET', KEYS[1 + i], 'lease_token') == token then
    extended[#extended + 1] = deadline
    extended[#extended + 1] = id
  end
end
if #extended > 0 then redis.call('ZADD', KEYS[1], 'XX', unpack(extended)) end
return #extended / 2
