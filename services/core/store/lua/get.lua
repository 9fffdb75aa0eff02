-- One event with its attempt history. KEYS[1] the event, KEYS[2] its history.
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return nil end
return {fields, redis.call('LRANGE', KEYS[2], 0, -1)}
