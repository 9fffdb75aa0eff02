-- Ends an attempt. Only the attempt that is still current can end it: a worker that
-- comes back after the reconciler already recovered its attempt is told 'stale'.
-- ARGV[3] event id, ARGV[4] attempt number, ARGV[5] 'success' | 'retryable' |
-- 'permanent', ARGV[6] now, ARGV[7] error text, ARGV[8] result JSON, ARGV[9] retry at,
-- ARGV[10] history outcome override ('' or e.g. 'abandoned'), ARGV[11] the attempt's
-- effects (JSON, see below), ARGV[12..14] the retry's RQ job (see dispatch; sent only
-- with a retryable outcome, the only one that can retry).
local id = ARGV[3]

-- The attempt's own last writes (a contact found, a status tagged) record what already
-- happened upstream, so they apply whatever the fate, even stale.
local function apply(effect)
  local op = effect[1]
  if op == 'hset' then
    redis.call('HSET', effect[2], effect[3], effect[4])
  elseif op == 'sadd' then
    redis.call('SADD', effect[2], effect[3])
  else
    error('unknown effect: ' .. tostring(op))
  end
end
for _, effect in ipairs(cjson.decode(ARGV[11])) do apply(effect) end

local ev = event_key(id)
local now = tonumber(ARGV[6])
local status = redis.call('HGET', ev, 'status')
local attempts = tonumber(redis.call('HGET', ev, 'attempts') or '0')
if status ~= 'processing' or attempts ~= tonumber(ARGV[4]) then
  return {'stale', status or 'missing'}
end
-- A lock the attempt registered on its event (the payment lock) ends with it, whether
-- its worker ends it or the reconciler recovers it: a dead worker's lock would
-- otherwise hold the event's retry off until the lock expires.
local held = redis.call('HMGET', ev, 'held_lock', 'held_token')
if held[1] then
  if redis.call('GET', held[1]) == held[2] then redis.call('DEL', held[1]) end
  redis.call('HDEL', ev, 'held_lock', 'held_token')
end
local max_attempts = tonumber(redis.call('HGET', ev, 'max_attempts'))
local outcome = ARGV[5]
local final
if outcome == 'success' then
  final = 'success'
elseif outcome == 'retryable' and attempts < max_attempts then
  final = 'retry'
else
  final = 'failed'
end
local new_status = final
if final == 'retry' then new_status = 'pending' end
set_status(id, redis.call('HGET', ev, 'type'), status, new_status)
redis.call('HSET', ev, 'updated_at', ARGV[6], 'last_error', ARGV[7])
if ARGV[8] ~= '' then redis.call('HSET', ev, 'result', ARGV[8]) end
local entry = cjson.decode(redis.call('LINDEX', history_key(id), -1) or '{}')
entry.ended_at = now
entry.outcome = ARGV[10] ~= '' and ARGV[10] or final
if ARGV[7] ~= '' then entry.error = ARGV[7] end
redis.call('LSET', history_key(id), -1, cjson.encode(entry))
if final == 'retry' then
  dispatch(id, 12, tonumber(ARGV[9]), now)
else
  redis.call('HSET', ev, 'next_retry_at', '')
end
return {final, tostring(attempts)}
