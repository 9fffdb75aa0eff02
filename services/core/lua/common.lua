-- Shared by every script: key names and the two operations that must always happen
-- together with an event's state change (index maintenance and job dispatch).
-- ARGV[1] is always the key prefix, ARGV[2] the RQ names as JSON
-- {"job": "rq:job:", "queue": "rq:queue:<name>", "queues": "rq:queues", "scheduled": "..."}.
local P = ARGV[1]
local RQ = cjson.decode(ARGV[2])

local function event_key(id) return P .. ':event:' .. id end
local function history_key(id) return P .. ':history:' .. id end

-- Moves an event between the status indexes (sorted sets with score 0, ordered by id,
-- which is time-ordered: the API pages them with ZREVRANGEBYLEX).
local function set_status(id, event_type, old, new)
  if old and old ~= '' then
    redis.call('ZREM', P .. ':idx:status:' .. old, id)
    redis.call('ZREM', P .. ':idx:status-type:' .. old .. ':' .. event_type, id)
  end
  redis.call('ZADD', P .. ':idx:status:' .. new, 0, id)
  redis.call('ZADD', P .. ':idx:status-type:' .. new .. ':' .. event_type, 0, id)
  if new == 'processing' then
    redis.call('ZREM', P .. ':due', id)
  else
    redis.call('ZREM', P .. ':processing', id)
  end
  if new == 'success' or new == 'failed' then
    redis.call('ZREM', P .. ':due', id)
  end
  redis.call('HSET', event_key(id), 'status', new)
end

-- Writes the RQ job hash and either pushes it on the queue now or puts it in
-- rq-scheduler's sorted set for `at`. The job travels as three arguments from
-- ARGV[job_arg]: its id, its text fields as JSON and its binary `data` (both made by
-- RQ's own Job.to_dict and serializer in Python: services/core/rqjobs.py). A job the
-- event had waiting in the schedule is withdrawn, so an event has at most one pending
-- job of ours (duplicates from elsewhere are still harmless: see claim).
local function dispatch(id, job_arg, at, now)
  local ev = event_key(id)
  local previous = redis.call('HGET', ev, 'job_id')
  if previous and redis.call('ZREM', RQ.scheduled, previous) == 1 then
    redis.call('DEL', RQ.job .. previous)
  end
  local job_id = ARGV[job_arg]
  local fields = cjson.decode(ARGV[job_arg + 1])
  local flat = {'data', ARGV[job_arg + 2]}
  for name, value in pairs(fields) do
    flat[#flat + 1] = name
    flat[#flat + 1] = value
  end
  local job_key = RQ.job .. job_id
  redis.call('HSET', job_key, unpack(flat))
  if at <= now then
    redis.call('HSET', job_key, 'status', 'queued', 'enqueued_at', fields.created_at)
    redis.call('RPUSH', RQ.queue, job_id)
    redis.call('SADD', RQ.queues, RQ.queue)
  else
    redis.call('HSET', job_key, 'status', 'scheduled')
    redis.call('ZADD', RQ.scheduled, at, job_id)
  end
  redis.call('HSET', ev, 'job_id', job_id, 'next_retry_at', tostring(at))
  redis.call('ZADD', P .. ':due', at, id)
end

local function append_history(id, entry)
  redis.call('RPUSH', history_key(id), cjson.encode(entry))
end
