-- item_fanout_done (used by queue/item_store.cpp).
-- KEYS: item, fanout, audit list. ARGV: id, new state (queued|scheduled|withheld), now ms, audit
-- retention s, channels a drill was withheld from (comma-separated, '' for none).
-- Only the first run after approval changes the state and writes the audit entries, so a fan-out
-- repeated by recovery is audited once.
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'approved' then
  redis.call('HSET', KEYS[1], 'state', ARGV[2])
  if ARGV[5] ~= '' then
    audit_add(KEYS[3], 'event', 'drill_withheld', 'who', 'heraldd', 'at', ARGV[3],
      'channels', ARGV[5], 'reason',
      'a drill (status exercise) is not sent where channels.<name>.drills is "withheld"')
  end
  if ARGV[2] ~= 'withheld' then
    audit_add(KEYS[3], 'event', ARGV[2], 'who', 'heraldd', 'at', ARGV[3])
  end
  redis.call('EXPIRE', KEYS[3], ARGV[4])
end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
