-- Starts an attempt: only a pending event whose time has come can be claimed, so a
-- second job for the same event (scheduler and reconciler both enqueued one, or a
-- retry queued twice) finds it processing or done and does nothing.
-- KEYS[1] the event, KEYS[2] its history. ARGV[2] event id, ARGV[3] job id,
-- ARGV[4] worker name, ARGV[5] now.
-- A claim also returns the event's fields as they are after it (HGETALL, without the
-- history), so the worker needs no second round trip to read the event it processes.
local ev, id, now = KEYS[1], ARGV[2], tonumber(ARGV[5])
local status = redis.call('HGET', ev, 'status')
if not status then return {'missing'} end
if status ~= 'pending' then return {'not_pending', status} end
local due = tonumber(redis.call('HGET', ev, 'next_retry_at') or '0') or 0
-- One second of slack absorbs clock differences between pods.
if due > now + 1 then return {'not_due', tostring(due)} end
local attempt = redis.call('HINCRBY', ev, 'attempts', 1)
set_status(ev, id, redis.call('HGET', ev, 'type'), status, 'processing')
redis.call('HSET', ev, 'worker', ARGV[4], 'attempt_started_at', ARGV[5], 'alive_at', ARGV[5], 'updated_at', ARGV[5],
  'claimed_job_id', ARGV[3], 'next_retry_at', '')
redis.call('ZADD', K.processing, now, id)
redis.call('RPUSH', KEYS[2], cjson.encode({attempt = attempt, job_id = ARGV[3], worker = ARGV[4], started_at = now}))
return {'claimed', tostring(attempt), redis.call('HGETALL', ev)}
