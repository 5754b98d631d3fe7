-- Prepended to every script of this folder (queue/CMakeLists.txt). A counter hash's field
-- (queue/stats_store.h) is "<yyyy-mm-dd>|<category>|<kind>", with "|<level>" for an alert that
-- has a reminder level; its month rollup's field drops the day: "<yyyy-mm>|<category>|<kind>...".
-- queue/stats_store.cpp builds and parses the same format.
local function counter_field(day, category, kind, level)
  local field = day .. '|' .. (category or '') .. '|' .. (kind or '')
  if level and level ~= '' then field = field .. '|' .. level end
  return field
end
local function month_field(field)
  return string.sub(field, 1, 7) .. string.sub(field, 11)
end
