-- Ends an attempt. Only the attempt that is still current can end it: a worker that
-- comes back after the reconciler already recovered its attempt is told 'stale'.
-- KEYS[1] the event, KEYS[2] its history, and with a payment's effects KEYS[3] the
-- payment's hash and KEYS[4] its tagged statuses.
-- ARGV[2] event id, ARGV[3] attempt number, ARGV[4] '' (succeeded) | 'retryable' |
-- 'permanent', ARGV[5] now, ARGV[6] error text, ARGV[7] result JSON, ARGV[8] retry at,
-- ARGV[9] '' or 'abandoned' (the reconciler's recovery, for the history), ARGV[10] the
-- contact found, ARGV[11] the status tagged and ARGV[12] its record (when, which tags:
-- services/core/payments.py Tagging; all may be ''), ARGV[13..15] the retry's RQ job (see
-- dispatch; sent only with a retryable failure, the only one that can retry).
local ev, id = KEYS[1], ARGV[2]

-- The payment's effects record what already happened at GoHighLevel, so they apply
-- whatever the outcome, even stale.
if KEYS[3] then
  if ARGV[10] ~= '' then redis.call('HSET', KEYS[3], 'contact_id', ARGV[10]) end
  if ARGV[11] ~= '' then
    redis.call('SADD', KEYS[4], ARGV[11])
    -- When each status was tagged and with which tags, for the payments pages and API.
    redis.call('HSETNX', KEYS[3], 'tagged:' .. ARGV[11], ARGV[12])
  end
end

local now = tonumber(ARGV[5])
local status = redis.call('HGET', ev, 'status')
local attempts = tonumber(redis.call('HGET', ev, 'attempts') or '0')
if status ~= 'processing' or attempts ~= tonumber(ARGV[3]) then
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
local failure = ARGV[4]
local outcome
if failure == '' then
  outcome = 'success'
elseif failure == 'retryable' and attempts < max_attempts then
  outcome = 'retry'
else
  outcome = 'failed'
end
set_status(ev, id, redis.call('HGET', ev, 'type'), status, outcome == 'retry' and 'pending' or outcome)
redis.call('HSET', ev, 'updated_at', ARGV[5], 'last_error', ARGV[6])
if ARGV[7] ~= '' then redis.call('HSET', ev, 'result', ARGV[7]) end
local entry = cjson.decode(redis.call('LINDEX', KEYS[2], -1) or '{}')
entry.ended_at = now
entry.outcome = ARGV[9] ~= '' and ARGV[9] or outcome
if ARGV[6] ~= '' then entry.error = ARGV[6] end
redis.call('LSET', KEYS[2], -1, cjson.encode(entry))
if outcome == 'retry' then
  dispatch(ev, id, 13, tonumber(ARGV[8]), now)
else
  redis.call('HSET', ev, 'next_retry_at', '')
end
return {outcome, tostring(attempts)}
