-- One page of events, newest first, from one index, in a single round trip.
-- ARGV[3] index key suffix, ARGV[4] upper lex bound, ARGV[5] lower lex bound, ARGV[6] count.
local ids = redis.call('ZREVRANGEBYLEX', P .. ':' .. ARGV[3], ARGV[4], ARGV[5], 'LIMIT', 0, tonumber(ARGV[6]))
local page = {}
for _, id in ipairs(ids) do
  page[#page + 1] = redis.call('HGETALL', event_key(id))
end
return page
