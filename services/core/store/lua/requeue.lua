-- Queues an event now. 'manual' (operator retry) accepts any event that is not being
-- processed and gives it a fresh retry budget on top of the attempts already made;
-- 'lost' (reconciler) only touches a pending event still waiting for the job it lost.
-- A manual retry names who asked for it (console, cli, api) in the event's history.
-- KEYS[1] the event, KEYS[2] its history. ARGV[2] event id, ARGV[3] mode, ARGV[4] now,
-- ARGV[5] fresh budget (attempts), ARGV[6] expected job id ('lost'), ARGV[7] who asked
-- ('' for none), ARGV[8..10] the RQ job (see dispatch).
local ev, id = KEYS[1], ARGV[2]
local status = redis.call('HGET', ev, 'status')
if not status then return {'missing'} end
if status == 'processing' then return {'processing'} end
if ARGV[3] == 'lost' and (status ~= 'pending' or redis.call('HGET', ev, 'job_id') ~= ARGV[6]) then
  return {'changed', status}
end
if ARGV[3] == 'manual' then
  local attempts = tonumber(redis.call('HGET', ev, 'attempts') or '0')
  redis.call('HSET', ev, 'max_attempts', attempts + tonumber(ARGV[5]))
end
set_status(ev, id, redis.call('HGET', ev, 'type'), status, 'pending')
redis.call('HSET', ev, 'updated_at', ARGV[4])
local now = tonumber(ARGV[4])
if ARGV[7] ~= '' then
  redis.call('RPUSH', KEYS[2], cjson.encode({requested_by = ARGV[7], requested_at = now, previous_status = status}))
end
dispatch(ev, id, 8, now, now)
return {'queued', status}
