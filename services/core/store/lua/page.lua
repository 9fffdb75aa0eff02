-- One page of events, newest first, from one index, in a single round trip, with how
-- many the whole selection holds (ZLEXCOUNT: a count, not a scan).
-- KEYS[1] the index. ARGV[2] upper lex bound, ARGV[3] lower lex bound, ARGV[4] count,
-- ARGV[5] the selection's upper bound without the cursor.
local ids = redis.call('ZREVRANGEBYLEX', KEYS[1], ARGV[2], ARGV[3], 'LIMIT', 0, tonumber(ARGV[4]))
local page = {}
for _, id in ipairs(ids) do
  page[#page + 1] = redis.call('HGETALL', K.event(id))
end
return {redis.call('ZLEXCOUNT', KEYS[1], ARGV[3], ARGV[5]), page}
