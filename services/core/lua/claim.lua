-- Starts an attempt: only a pending event whose time has come can be claimed, so a
-- second job for the same event (scheduler and reconciler both enqueued one, or a
-- retry queued twice) finds it processing or done and does nothing.
-- ARGV[3] event id, ARGV[4] job id, ARGV[5] worker name, ARGV[6] now.
-- A claim also returns the event's fields as they are after it (HGETALL, without the
-- history), so the worker needs no second round trip to read the event it processes.
local id = ARGV[3]
local ev = event_key(id)
local now = tonumber(ARGV[6])
local status = redis.call('HGET', ev, 'status')
if not status then return {'missing'} end
if status ~= 'pending' then return {'not_pending', status} end
local due = tonumber(redis.call('HGET', ev, 'next_retry_at') or '0') or 0
-- One second of slack absorbs clock differences between pods.
if due > now + 1 then return {'not_due', tostring(due)} end
local attempt = redis.call('HINCRBY', ev, 'attempts', 1)
set_status(id, redis.call('HGET', ev, 'type'), status, 'processing')
redis.call('HSET', ev, 'worker', ARGV[5], 'attempt_started_at', ARGV[6], 'updated_at', ARGV[6],
  'claimed_job_id', ARGV[4], 'next_retry_at', '')
redis.call('ZADD', P .. ':processing', now, id)
append_history(id, {attempt = attempt, job_id = ARGV[4], worker = ARGV[5], started_at = now})
return {'claimed', tostring(attempt), redis.call('HGETALL', ev)}
