-- An upstream's breaker closed: the events that waited for it go to the queue now, in
-- receipt order (the index holds them by received_at), rather than at
-- their next probe time. The GoHighLevel limiter paces their calls as the workers take
-- them. An entry whose event no longer waits in the schedule (it ran, was retried by
-- hand or deleted) is dropped.
-- KEYS[1] the upstream's waiting index. ARGV[2] now. Returns how many were queued.
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
local released = 0
for _, id in ipairs(ids) do
  local ev = K.event(id)
  local fields = redis.call('HMGET', ev, 'status', 'job_id')
  if fields[1] == 'pending' and fields[2] and redis.call('ZREM', K.scheduled, fields[2]) == 1 then
    local job = K.job(fields[2])
    redis.call('HSET', job, 'status', 'queued', 'enqueued_at', redis.call('HGET', job, 'created_at'))
    redis.call('RPUSH', K.queue, fields[2])
    redis.call('HSET', ev, 'next_retry_at', ARGV[2])
    redis.call('ZADD', K.due, tonumber(ARGV[2]), id)
    released = released + 1
  end
end
if released > 0 then redis.call('SADD', K.queues, K.queue) end
return released
