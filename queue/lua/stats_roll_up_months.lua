-- stats_roll_up_months (used by queue/stats_store.cpp).
-- Rebuilds a month rollup from its day hash. KEYS[1] the day hash, KEYS[2] its rollup. Atomic,
-- so it is right whenever it runs: the day hash holds every count the rollup should sum.
redis.call('DEL', KEYS[2])
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local f = all[i]
  redis.call('HINCRBY', KEYS[2], month_field(f), tonumber(all[i + 1]))
end
return #all / 2
