-- Counts by status and by type, from the index cardinalities (no scan).
-- KEYS: the status indexes.
local by_status = {}
for i = 1, #KEYS do
  by_status[#by_status + 1] = redis.call('ZCARD', KEYS[i])
end
local by_type = {}
for _, event_type in ipairs(redis.call('SMEMBERS', K.types)) do
  by_type[#by_type + 1] = event_type
  by_type[#by_type + 1] = redis.call('ZCARD', K.type(event_type))
end
return {by_status, by_type}
