-- Counts by status and by type, from the index cardinalities (no scan).
-- ARGV[3..] the statuses.
local by_status = {}
for i = 3, #ARGV do
  by_status[#by_status + 1] = ARGV[i]
  by_status[#by_status + 1] = redis.call('ZCARD', P .. ':idx:status:' .. ARGV[i])
end
local by_type = {}
for _, event_type in ipairs(redis.call('SMEMBERS', P .. ':types')) do
  by_type[#by_type + 1] = event_type
  by_type[#by_type + 1] = redis.call('ZCARD', P .. ':idx:type:' .. event_type)
end
return {by_status, by_type}
