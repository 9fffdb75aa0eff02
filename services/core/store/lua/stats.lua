-- Counts by status and by type, from the index cardinalities (no scan), and every
-- upstream's breaker as its hash holds it (services/core/breakers.py reads it).
-- KEYS: the status indexes, then the breakers. ARGV[2] how many status indexes.
local statuses = tonumber(ARGV[2])
local by_status = {}
for i = 1, statuses do
  by_status[#by_status + 1] = redis.call('ZCARD', KEYS[i])
end
local by_type = {}
for _, event_type in ipairs(redis.call('SMEMBERS', K.types)) do
  by_type[#by_type + 1] = event_type
  by_type[#by_type + 1] = redis.call('ZCARD', K.type(event_type))
end
local breakers = {}
for i = statuses + 1, #KEYS do
  breakers[#breakers + 1] = redis.call('HGETALL', KEYS[i])
end
return {by_status, by_type, breakers}
