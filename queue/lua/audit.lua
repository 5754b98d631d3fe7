-- Prepended to every script of this folder (queue/CMakeLists.txt). An audit trail (备案) is a LIST
-- per item or delivery holding one JSON array [field, value, field, value, ...] per event, written
-- by the script that makes the change it records. A list of a few short entries costs a few
-- hundred bytes; a Redis 7.0 stream preallocates about 4.7 KB per key, which made the trail the
-- largest thing Herald kept. The caller refreshes the key's EXPIRE (audit.retention_days).
local function audit_add(key, ...)
  local entry = {}
  for i = 1, select('#', ...) do entry[i] = tostring((select(i, ...)) or '') end
  redis.call('RPUSH', key, cjson.encode(entry))
end
