-- Stores notifications, each with its RQ job, or counts each as a repeat of the event
-- that already holds it. Several notifications arriving together travel in one call
-- (the receiver sends those of one event-loop turn); each is handled exactly as if it
-- came alone, in order.
-- Per notification, two keys: the event and its marker (the key holding the id of the
-- event that has this notification: Keys.duplicate_of or Keys.latest_for); and seven
-- arguments from ARGV[2]: event id, now, "id" (a repeat of the same notification) or
-- "pending" (of the same resource, only while that event is pending), event fields as
-- JSON, and the RQ job (three arguments, see dispatch).
-- Returns {status, event id} per notification.
local function receive(ev, marker, first)
  local id = ARGV[first]
  local now = tonumber(ARGV[first + 1])
  local existing = redis.call('GET', marker)
  if existing then
    local existing_ev = K.event(existing)
    local status = redis.call('HGET', existing_ev, 'status')
    if status and (ARGV[first + 2] == 'id' or status == 'pending') then
      redis.call('HINCRBY', existing_ev, 'duplicates', 1)
      redis.call('HSET', existing_ev, 'updated_at', ARGV[first + 1])
      return {'already_received', existing}
    end
  end
  local fields = cjson.decode(ARGV[first + 3])
  local flat = {'id', id, 'received_at', ARGV[first + 1], 'updated_at', ARGV[first + 1],
                'attempts', 0, 'duplicates', 0, 'marker', marker}
  for name, value in pairs(fields) do
    flat[#flat + 1] = name
    flat[#flat + 1] = value
  end
  redis.call('HSET', ev, unpack(flat))
  redis.call('ZADD', K.all, 0, id)
  redis.call('ZADD', K.type(fields.type), 0, id)
  if fields.resource_id ~= '' then redis.call('ZADD', K.resource(fields.resource_id), 0, id) end
  redis.call('SADD', K.types, fields.type)
  set_status(ev, id, fields.type, nil, 'pending')
  redis.call('SET', marker, id)
  dispatch(ev, id, first + 4, now, now)
  return {'received', id}
end

local answers = {}
for n = 0, #KEYS / 2 - 1 do
  local answer = receive(KEYS[2 * n + 1], KEYS[2 * n + 2], 2 + 7 * n)
  answers[#answers + 1] = answer[1]
  answers[#answers + 1] = answer[2]
end
return answers
