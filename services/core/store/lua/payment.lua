-- One payment's stored state and the newest events of its resource.
-- KEYS[1] the payment's hash, KEYS[2] the events of its resource. ARGV[2] how many events.
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return nil end
return {fields, redis.call('ZREVRANGEBYLEX', KEYS[2], '+', '-', 'LIMIT', 0, tonumber(ARGV[2]))}
