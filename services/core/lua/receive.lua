-- Stores notifications, each with its RQ job, or counts each as a duplicate of the
-- event that already holds it. Several notifications arriving together travel in one
-- call (the receiver sends those of one event-loop turn); each is handled exactly as
-- if it came alone, in order.
-- ARGV[3..] eight arguments per notification: event id, now, marker key suffix
-- (dedupe:<type>:<id> or resource:<type>:<id>), "id" (same notification) or "pending"
-- (same resource, only while that event is pending), event fields as JSON, and the RQ
-- job (three arguments, see dispatch). Returns {status, event id} per notification.
local function receive(first)
  local id = ARGV[first]
  local now = tonumber(ARGV[first + 1])
  local marker = P .. ':' .. ARGV[first + 2]
  local existing = redis.call('GET', marker)
  if existing then
    local ev = event_key(existing)
    local status = redis.call('HGET', ev, 'status')
    if status and (ARGV[first + 3] == 'id' or status == 'pending') then
      redis.call('HINCRBY', ev, 'duplicates', 1)
      redis.call('HSET', ev, 'updated_at', ARGV[first + 1])
      return {'already_received', existing}
    end
  end
  local fields = cjson.decode(ARGV[first + 4])
  local flat = {'id', id, 'received_at', ARGV[first + 1], 'updated_at', ARGV[first + 1],
                'attempts', 0, 'duplicates', 0, 'marker', marker}
  for name, value in pairs(fields) do
    flat[#flat + 1] = name
    flat[#flat + 1] = value
  end
  redis.call('HSET', event_key(id), unpack(flat))
  redis.call('ZADD', P .. ':idx:all', 0, id)
  redis.call('ZADD', P .. ':idx:type:' .. fields.type, 0, id)
  redis.call('SADD', P .. ':types', fields.type)
  set_status(id, fields.type, nil, 'pending')
  redis.call('SET', marker, id)
  dispatch(id, first + 5, now, now)
  return {'received', id}
end

local answers = {}
for first = 3, #ARGV, 8 do
  local answer = receive(first)
  answers[#answers + 1] = answer[1]
  answers[#answers + 1] = answer[2]
end
return answers
