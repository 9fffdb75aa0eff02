-- Stores a new notification and queues its job in one atomic step, or counts it as a
-- duplicate of the event that already holds it.
-- ARGV[3] event id, ARGV[4] now, ARGV[5] marker key suffix (dedupe:<type>:<id> or
-- ipn:<topic>:<resource>), ARGV[6] "id" (same notification) or "pending" (same
-- resource, only while that event is pending), ARGV[7] event fields as JSON,
-- ARGV[8..10] the RQ job (see dispatch).
local id = ARGV[3]
local now = tonumber(ARGV[4])
local marker = P .. ':' .. ARGV[5]
local collapse = ARGV[6]

local existing = redis.call('GET', marker)
if existing then
  local ev = event_key(existing)
  local status = redis.call('HGET', ev, 'status')
  if status and (collapse == 'id' or status == 'pending') then
    redis.call('HINCRBY', ev, 'duplicates', 1)
    redis.call('HSET', ev, 'updated_at', ARGV[4])
    return {'already_received', existing}
  end
end

local fields = cjson.decode(ARGV[7])
local ev = event_key(id)
for name, value in pairs(fields) do
  redis.call('HSET', ev, name, value)
end
redis.call('HSET', ev, 'id', id, 'received_at', ARGV[4], 'updated_at', ARGV[4],
  'attempts', 0, 'duplicates', 0, 'marker', marker)
redis.call('ZADD', P .. ':idx:all', 0, id)
redis.call('ZADD', P .. ':idx:type:' .. fields.type, 0, id)
redis.call('SADD', P .. ':types', fields.type)
set_status(id, fields.type, nil, 'pending')
redis.call('SET', marker, id)
dispatch(id, 8, now, now)
return {'received', id}
