-- item_bodies (used by queue/item_store.cpp): the stored JSON of several items, for the
-- deliveries a dispatcher has just claimed. A delivery of an item's publication carries no copy
-- of the item: the body is kept once, in the item's hash, and read here in one call per claim.
-- KEYS: item hashes (<p>{items}:item:<id>). ARGV: none.
-- Returns one string per key, '' for an item that is not stored.
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('HGET', key, 'json') or '' end
return out
