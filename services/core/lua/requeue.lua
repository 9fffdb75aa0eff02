-- Queues an event now. 'manual' (operator retry) accepts any event that is not being
-- processed and gives it a fresh retry budget on top of the attempts already made;
-- 'lost' (reconciler) only touches a pending event still waiting for the job it lost.
-- ARGV[3] event id, ARGV[4] mode, ARGV[5] now, ARGV[6] job id, ARGV[7] enqueued_at,
-- ARGV[8] fresh budget (attempts), ARGV[9] expected job id ('lost'), ARGV[10..] job fields.
local id = ARGV[3]
local ev = event_key(id)
local status = redis.call('HGET', ev, 'status')
if not status then return {'missing'} end
if status == 'processing' then return {'processing'} end
if ARGV[4] == 'lost' and (status ~= 'pending' or redis.call('HGET', ev, 'job_id') ~= ARGV[9]) then
  return {'changed', status}
end
if ARGV[4] == 'manual' then
  local attempts = tonumber(redis.call('HGET', ev, 'attempts') or '0')
  redis.call('HSET', ev, 'max_attempts', attempts + tonumber(ARGV[8]))
end
set_status(id, redis.call('HGET', ev, 'type'), status, 'pending')
redis.call('HSET', ev, 'updated_at', ARGV[5])
local now = tonumber(ARGV[5])
dispatch(id, ARGV[6], job_fields_from(10), now, now, ARGV[7])
return {'queued', status}
