-- Retention: removes a finished event with everything that points at it. Never touches
-- an event that is pending or processing.
-- KEYS[1] the event, KEYS[2] its history. ARGV[2] event id.
local ev, id = KEYS[1], ARGV[2]
local status = redis.call('HGET', ev, 'status')
if status ~= 'success' and status ~= 'failed' then return 0 end
local event_type = redis.call('HGET', ev, 'type')
local resource_id = redis.call('HGET', ev, 'resource_id')
if resource_id and resource_id ~= '' then redis.call('ZREM', K.resource(resource_id), id) end
local marker = redis.call('HGET', ev, 'marker')
if marker and redis.call('GET', marker) == id then redis.call('DEL', marker) end
redis.call('ZREM', K.all, id)
redis.call('ZREM', K.type(event_type), id)
redis.call('ZREM', K.status(status), id)
redis.call('ZREM', K.status_type(status, event_type), id)
redis.call('DEL', ev, KEYS[2])
return 1
