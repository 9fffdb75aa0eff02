-- Shared by every event-store script: the key names, and the operations that must
-- always happen together with an event's state change (index maintenance, job dispatch,
-- history). ARGV[1] is always the key scheme from services/core/keys.py (Keys.lua_scheme):
-- a script names the keys it knows before the call in KEYS[], and builds the others
-- (found inside: an index by the event's stored type, a job named in the event) from K.
local S = cjson.decode(ARGV[1])
local K = {
  all = S.all, types = S.types, due = S.due, processing = S.processing,
  queue = S.queue, queues = S.queues, scheduled = S.scheduled,
}
function K.event(id) return S.event .. id end
function K.history(id) return S.history .. id end
function K.status(status) return S.status .. status end
function K.type(event_type) return S.type .. event_type end
function K.status_type(status, event_type) return S.status_type[1] .. status .. S.status_type[2] .. event_type end
function K.job(job_id) return S.job .. job_id end
function K.resource(resource_id) return S.resource .. resource_id end
function K.payment(payment_id) return S.payment .. payment_id end
function K.breaker(upstream) return S.breaker .. upstream end
function K.waiting(upstream) return S.waiting .. upstream end

-- Moves an event between the status indexes and keeps `due` / `processing` in step.
local function set_status(ev, id, event_type, old, new)
  if old and old ~= '' then
    redis.call('ZREM', K.status(old), id)
    redis.call('ZREM', K.status_type(old, event_type), id)
  end
  redis.call('ZADD', K.status(new), 0, id)
  redis.call('ZADD', K.status_type(new, event_type), 0, id)
  if new == 'processing' then
    redis.call('ZREM', K.due, id)
  else
    redis.call('ZREM', K.processing, id)
  end
  if new == 'success' or new == 'failed' then
    redis.call('ZREM', K.due, id)
  end
  redis.call('HSET', ev, 'status', new)
end

-- Writes the RQ job hash and either pushes it on the queue now or puts it in
-- rq-scheduler's sorted set for `at`. The job travels as three arguments from
-- ARGV[job_arg]: its id, its text fields as JSON and its binary `data` (both made by
-- RQ's own Job.to_dict and serializer in Python: services/core/rqjobs.py). A job the
-- event had waiting in the schedule is withdrawn, so an event has at most one pending
-- job of ours (duplicates from elsewhere are still harmless: see claim).
local function dispatch(ev, id, job_arg, at, now)
  local previous = redis.call('HGET', ev, 'job_id')
  if previous and redis.call('ZREM', K.scheduled, previous) == 1 then
    redis.call('DEL', K.job(previous))
  end
  local job_id = ARGV[job_arg]
  local fields = cjson.decode(ARGV[job_arg + 1])
  local flat = {'data', ARGV[job_arg + 2]}
  for name, value in pairs(fields) do
    flat[#flat + 1] = name
    flat[#flat + 1] = value
  end
  local job_key = K.job(job_id)
  redis.call('HSET', job_key, unpack(flat))
  if at <= now then
    redis.call('HSET', job_key, 'status', 'queued', 'enqueued_at', fields.created_at)
    redis.call('RPUSH', K.queue, job_id)
    redis.call('SADD', K.queues, K.queue)
  else
    redis.call('HSET', job_key, 'status', 'scheduled')
    redis.call('ZADD', K.scheduled, at, job_id)
  end
  redis.call('HSET', ev, 'job_id', job_id, 'next_retry_at', tostring(at))
  redis.call('ZADD', K.due, at, id)
end
