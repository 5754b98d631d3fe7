-- Prepended to every script of this folder (queue/CMakeLists.txt). The queue's "now" is Redis's
-- own clock (TIME), so every heraldd agrees on leases, heartbeats, schedules and retries whatever
-- its host's clock says: a host running ahead can neither take live leases nor release embargoed
-- items early. A caller pins the time (tests with a manual clock) by passing it instead of ''.
local function queue_now(pinned)
  if pinned ~= '' then return pinned end
  local t = redis.call('TIME')
  return tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
end
