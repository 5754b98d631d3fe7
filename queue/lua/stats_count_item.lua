-- stats_count_item (used by queue/stats_store.cpp).
-- Counts an item at its first successful delivery. Crash safety, in two steps over two slots:
--  1. complete.lua acks the delivery, tallies it for its channel and adds it to the channel's
--     firstpub set in ONE step (the channel's slot);
--  2. this script, in the {items} slot, counts the item once: the item's mark (first_published_at
--     and the counter field it was counted in) and the HINCRBY are one step, and a repeat is a
--     no-op. A later step 2 of an EARLIER delivery (whose process died between 1 and 2) moves the
--     count to that delivery's day, so the item ends up counted exactly once, on the day of its
--     first successful delivery, in whatever order the settlements run.
-- Between 1 and 2 the delivery waits in firstpub: the finisher settles it right after the ack and
-- the recovery loop settles what a crash left behind; reconcile() settles before comparing. So a
-- crash can delay an item count, never lose or double it. (One Lua script over both slots would
-- close the window on a single Redis, but would break the key layout's cluster compatibility.)
-- A batch of items, all in the {items} slot: KEYS[2i-1] item i's hash, KEYS[2i] its fallback mark
-- hash (for deliveries with no stored item: tests, deliveries queued directly). ARGV[1] stats hash
-- prefix "<p>{items}:stats:" (hashes built from it stay in the {items} slot; each year's hash
-- "<prefix><yyyy>" has its month rollup "<prefix><yyyy>:months", see queue/stats_store.h), then 3
-- per item: published ms, field, year.
-- Returns one integer per item: 1 if counted (or moved), 0 if the item was already counted at or
-- before that time.
local prefix = ARGV[1]
local function add(year, field, n)
  redis.call('HINCRBY', prefix .. year, field, n)
  redis.call('HINCRBY', prefix .. year .. ':months', month_field(field), n)
end
local out = {}
for i = 1, #KEYS / 2 do
  local b = 1 + (i - 1) * 3
  local published, field, year = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local mark = KEYS[2 * i - 1]
  if redis.call('EXISTS', mark) == 0 then mark = KEYS[2 * i] end
  local f = redis.call('HMGET', mark, 'first_published_at', 'counted_in')
  local at = tonumber(published)
  out[i] = 0
  if not f[1] or tonumber(f[1]) > at then
    if f[1] then
      local old = f[2] or ''
      local bar = string.find(old, '|', 1, true)
      if bar then add(string.sub(old, 1, bar - 1), string.sub(old, bar + 1), -1) end
    end
    redis.call('HSET', mark, 'first_published_at', published, 'counted_in', year .. '|' .. field)
    add(year, field, 1)
    out[i] = 1
  end
end
return out
