-- One event with its attempt history. ARGV[3] event id.
local fields = redis.call('HGETALL', event_key(ARGV[3]))
if #fields == 0 then return nil end
return {fields, redis.call('LRANGE', history_key(ARGV[3]), 0, -1)}
