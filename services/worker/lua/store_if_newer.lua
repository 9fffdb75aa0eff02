-- Writes a state only when it is at least as new as the stored one: notifications
-- arrive out of order, and a retried old event must not roll a resource back.
-- KEYS[1] the resource's hash. ARGV[1] its updated_ts, ARGV[2..] field/value pairs.
local stored = tonumber(redis.call('HGET', KEYS[1], 'updated_ts') or '-1')
if stored > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'updated_ts', ARGV[1], unpack(ARGV, 2))
return 1
