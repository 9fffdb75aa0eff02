-- One page of payments, newest update first, from one payments index (see
-- Keys.all_payments), with how many the selection holds.
-- KEYS[1] the index. ARGV[2] upper lex bound, ARGV[3] lower lex bound, ARGV[4] count,
-- ARGV[5] the selection's upper bound without the cursor.
-- Returns {total, {member, fields}...}.
local members = redis.call('ZREVRANGEBYLEX', KEYS[1], ARGV[2], ARGV[3], 'LIMIT', 0, tonumber(ARGV[4]))
local page = {}
for _, member in ipairs(members) do
  local payment_id = string.sub(member, string.find(member, ':', 1, true) + 1)
  page[#page + 1] = {member, redis.call('HGETALL', K.payment(payment_id))}
end
return {redis.call('ZLEXCOUNT', KEYS[1], ARGV[3], ARGV[5]), page}
