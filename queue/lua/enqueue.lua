-- enqueue: adds deliveries of ONE channel. A delivery whose ledger hash already exists is left
-- alone (whatever its state), so a repeated fan-out never queues it twice.
-- KEYS[1] alert lane, KEYS[2] routine lane, KEYS[3] timed, KEYS[4] wake:alert, KEYS[5] wake,
-- KEYS[5+i] ledger hash of delivery i (all share the channel's {hash tag}).
-- ARGV[1] pinned now ms ('' = Redis TIME, see now.lua), ARGV[2] channel, then 9 per delivery:
--   id, item_id, lane ('alert'|'routine'), category, kind, payload ('' for an item's publication:
--   its body is stored once, with the item, and read when the delivery is claimed), due ms ('' = now),
--   level (alert reminder level or ''), exercise ('1' for a drill: recorded so that complete.lua
--   never counts it, and so reconciliation can tell).
-- Returns the number of deliveries added.
local now = queue_now(ARGV[1])
local now_n = tonumber(now)
local channel = ARGV[2]
local wake_alert, wake_routine = false, false
local added = 0
-- Ids are collected and pushed with one command per structure: fewer calls inside the script.
local alerts, routines, timed = {}, {}, {}
for i = 1, #KEYS - 5 do
  local key = KEYS[5 + i]
  local b = 2 + (i - 1) * 9
  if redis.call('EXISTS', key) == 0 then
    local id, lane, due = ARGV[b + 1], ARGV[b + 3], ARGV[b + 7]
    local scheduled = due ~= '' and tonumber(due) > now_n
    local state, time_field, time_value = 'queued', 'queued_at', now
    if scheduled then state, time_field, time_value = 'scheduled', 'publish_at', due end
    redis.call('HSET', key, 'id', id, 'item_id', ARGV[b + 2], 'channel', channel, 'lane', lane,
      'category', ARGV[b + 4], 'kind', ARGV[b + 5], 'attempts', 0,
      'created_at', now, 'updated_at', now, 'state', state, time_field, time_value)
    if ARGV[b + 6] ~= '' then redis.call('HSET', key, 'payload', ARGV[b + 6]) end
    if ARGV[b + 8] ~= '' then redis.call('HSET', key, 'level', ARGV[b + 8]) end
    if ARGV[b + 9] == '1' then redis.call('HSET', key, 'exercise', '1') end
    if scheduled then
      timed[#timed + 1] = due
      timed[#timed + 1] = id
    elseif lane == 'alert' then
      alerts[#alerts + 1] = id
    else
      routines[#routines + 1] = id
    end
    if lane == 'alert' then wake_alert = true else wake_routine = true end
    added = added + 1
  end
end
if #alerts > 0 then redis.call('RPUSH', KEYS[1], unpack(alerts)) end
if #routines > 0 then redis.call('RPUSH', KEYS[2], unpack(routines)) end
if #timed > 0 then redis.call('ZADD', KEYS[3], unpack(timed)) end
-- A scheduled delivery wakes a sleeper too: it may be due before that sleeper's timeout.
-- A wake list holds at most one token: one idle worker wakes, claims, and passes the token on
-- if work is left (claim.lua), instead of a token per delivery piling up.
if wake_alert and redis.call('LLEN', KEYS[4]) == 0 then redis.call('RPUSH', KEYS[4], '1') end
if wake_routine and redis.call('LLEN', KEYS[5]) == 0 then redis.call('RPUSH', KEYS[5], '1') end
return added
