-- Retention: removes a finished event with everything that points at it. Never touches
-- an event that is pending or processing.
-- ARGV[3] event id.
local id = ARGV[3]
local ev = event_key(id)
local status = redis.call('HGET', ev, 'status')
if status ~= 'success' and status ~= 'failed' then return 0 end
local event_type = redis.call('HGET', ev, 'type')
local marker = redis.call('HGET', ev, 'marker')
if marker and redis.call('GET', marker) == id then redis.call('DEL', marker) end
redis.call('ZREM', P .. ':idx:all', id)
redis.call('ZREM', P .. ':idx:type:' .. event_type, id)
redis.call('ZREM', P .. ':idx:status:' .. status, id)
redis.call('ZREM', P .. ':idx:status-type:' .. status .. ':' .. event_type, id)
redis.call('DEL', ev, history_key(id))
return 1
