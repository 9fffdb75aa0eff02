-- Queues an event now. 'manual' (operator retry) accepts any event that is not being
-- processed and gives it a fresh retry budget on top of the attempts already made;
-- 'lost' (reconciler) only touches a pending event still waiting for the job it lost.
-- ARGV[3] event id, ARGV[4] mode, ARGV[5] now, ARGV[6] fresh budget (attempts),
-- ARGV[7] expected job id ('lost'), ARGV[8..10] the RQ job (see dispatch).
local id = ARGV[3]
local ev = event_key(id)
local status = redis.call('HGET', ev, 'status')
if not status then return {'missing'} end
if status == 'processing' then return {'processing'} end
if ARGV[4] == 'lost' and (status ~= 'pending' or redis.call('HGET', ev, 'job_id') ~= ARGV[7]) then
  return {'changed', status}
end
if ARGV[4] == 'manual' then
  local attempts = tonumber(redis.call('HGET', ev, 'attempts') or '0')
  redis.call('HSET', ev, 'max_attempts', attempts + tonumber(ARGV[6]))
end
set_status(id, redis.call('HGET', ev, 'type'), status, 'pending')
redis.call('HSET', ev, 'updated_at', ARGV[5])
local now = tonumber(ARGV[5])
dispatch(id, 8, now, now)
return {'queued', status}
