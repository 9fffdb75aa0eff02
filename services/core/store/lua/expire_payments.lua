-- Retention of the payments' indexes: takes the payments last updated before a bound out
-- of the list (Keys.all_payments and the status index the payment's hash names), so the
-- indexes hold only what retention keeps. The payment's state stays: it is still found by
-- id and still guards against an older state and a second tagging; a newer update puts
-- it back in the indexes.
-- KEYS[1] the payments index. ARGV[2] the exclusive upper lex bound, ARGV[3] at most how
-- many. Returns how many left the indexes.
local members = redis.call('ZRANGEBYLEX', KEYS[1], '-', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(members) do
  local payment = K.payment(string.sub(member, string.find(member, ':', 1, true) + 1))
  local indexed = redis.call('HMGET', payment, 'index_member', 'status_index')
  if indexed[2] then redis.call('ZREM', indexed[2], member) end
  if indexed[1] == member then redis.call('HDEL', payment, 'index_member', 'status_index') end
  redis.call('ZREM', KEYS[1], member)
end
return #members
