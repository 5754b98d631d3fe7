-- stats_import_delivery (used by queue/stats_store.cpp).
-- An imported delivery: its ledger as complete.lua leaves a published one, and its tally, in one
-- step. KEYS[1] ledger, KEYS[2] tally hash of the year, KEYS[3] audit stream, KEYS[4] the month
-- rollup of KEYS[2]. ARGV[1] id,
-- ARGV[2] item id, ARGV[3] channel, ARGV[4] lane, ARGV[5] category, ARGV[6] kind, ARGV[7] level,
-- ARGV[8] published ms, ARGV[9] remote id, ARGV[10] field, ARGV[11] who, ARGV[12] retention s,
-- ARGV[13] now ms. Returns 1 if created, 0 if the ledger existed.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'item_id', ARGV[2], 'channel', ARGV[3], 'lane',
  ARGV[4], 'category', ARGV[5], 'kind', ARGV[6], 'attempts', 0, 'created_at', ARGV[8],
  'updated_at', ARGV[13], 'state', 'published', 'remote_id', ARGV[9], 'published_at', ARGV[8],
  'imported', '1')
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'level', ARGV[7]) end
redis.call('HINCRBY', KEYS[2], ARGV[10], 1)
redis.call('HINCRBY', KEYS[4], month_field(ARGV[10]), 1)
audit_add(KEYS[3], 'event', 'imported', 'who', ARGV[11], 'at', ARGV[13],
  'remote_id', ARGV[9], 'published_at', ARGV[8])
redis.call('EXPIRE', KEYS[3], ARGV[12])
return 1
