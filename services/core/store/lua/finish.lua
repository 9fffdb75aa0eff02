-- Ends an attempt. Only the attempt that is still current can end it: a worker that
-- comes back after the reconciler already recovered its attempt is told 'stale'.
-- KEYS[1] the event, KEYS[2] its history, and with a payment's effects KEYS[3] the
-- payment's hash, KEYS[4] its tagged statuses and KEYS[5] its lock.
-- ARGV[2] event id, ARGV[3] attempt number, ARGV[4] '' (succeeded) | 'retryable' |
-- 'permanent' | 'waiting' (an upstream's breaker is open: retried, the attempt not counted), ARGV[5] now, ARGV[6] error text, ARGV[7] result JSON, ARGV[8] retry at,
-- ARGV[9] '' or 'abandoned' (the reconciler's recovery, for the history), ARGV[10] the
-- contact found, ARGV[11] the status tagged (both may be ''), ARGV[12] how long an
-- attempt is silent before its worker counts as gone, ARGV[13] the tagged status's record
-- (when, which tags: services/core/payments.py Tagging; may be ''), ARGV[14] with
-- 'waiting' the upstream waited for ('' otherwise), ARGV[15..17] the retry's RQ job (see
-- dispatch; sent only with a retryable or waiting failure, the only ones that can retry).
local ev, id = KEYS[1], ARGV[2]

-- The payment's effects record what already happened at GoHighLevel, so they apply
-- whatever the outcome, even stale; and the attempt's own lock (its token is
-- '<event id>:<attempt>') is released by its worker whatever the outcome: the lock is
-- the attempt's, and no other attempt of the payment could take it while it ran.
if KEYS[3] then
  if ARGV[10] ~= '' then redis.call('HSET', KEYS[3], 'contact_id', ARGV[10]) end
  if ARGV[11] ~= '' then
    redis.call('SADD', KEYS[4], ARGV[11])
    -- When each status was tagged and with which tags, for the payments pages and API.
    redis.call('HSETNX', KEYS[3], 'tagged:' .. ARGV[11], ARGV[13])
  end
  if redis.call('GET', KEYS[5]) == id .. ':' .. ARGV[3] then redis.call('DEL', KEYS[5]) end
end

local now = tonumber(ARGV[5])
local status = redis.call('HGET', ev, 'status')
local attempts = tonumber(redis.call('HGET', ev, 'attempts') or '0')
if status ~= 'processing' or attempts ~= tonumber(ARGV[3]) then
  return {'stale', status or 'missing'}
end
-- A lock the attempt registered on its event (the payment lock) ends with it. The
-- reconciler's recovery releases it only when the attempt has been silent long enough
-- for its worker to be gone (a dead worker's lock would otherwise hold the retry off
-- until the lock expires at the attempt's deadline): an attempt that still runs keeps
-- its lock until it ends, so its retry cannot tag the same status meanwhile.
local held = redis.call('HMGET', ev, 'held_lock', 'held_token', 'alive_at')
if held[1] then
  local silent = now - tonumber(held[3] or '0') >= tonumber(ARGV[12])
  if ARGV[9] == '' or silent then
    if redis.call('GET', held[1]) == held[2] then redis.call('DEL', held[1]) end
  end
  redis.call('HDEL', ev, 'held_lock', 'held_token')
end
local max_attempts = tonumber(redis.call('HGET', ev, 'max_attempts'))
local failure = ARGV[4]
local outcome
if failure == '' then
  outcome = 'success'
elseif failure == 'waiting' then
  outcome = 'waiting'
  redis.call('HINCRBY', ev, 'attempts', -1)
elseif failure == 'retryable' and attempts < max_attempts then
  outcome = 'retry'
else
  outcome = 'failed'
end
local again = outcome == 'retry' or outcome == 'waiting'
set_status(ev, id, redis.call('HGET', ev, 'type'), status, again and 'pending' or outcome)
redis.call('HSET', ev, 'updated_at', ARGV[5], 'last_error', ARGV[6])
if ARGV[7] ~= '' then redis.call('HSET', ev, 'result', ARGV[7]) end
local entry = cjson.decode(redis.call('LINDEX', KEYS[2], -1) or '{}')
entry.ended_at = now
-- Its last sign of life (claim or keep-alive): when a recovered attempt was last seen.
entry.alive_at = tonumber(redis.call('HGET', ev, 'alive_at') or '')
entry.outcome = ARGV[9] ~= '' and ARGV[9] or outcome
if ARGV[6] ~= '' then entry.error = ARGV[6] end
redis.call('LSET', KEYS[2], -1, cjson.encode(entry))
if again then
  local at = tonumber(ARGV[8])
  if outcome == 'waiting' and ARGV[14] ~= '' then
    -- Waits in the upstream's index for the breaker's closing to release it in receipt
    -- order (release.lua); a breaker closed meanwhile has already released its events.
    if redis.call('HGET', K.breaker(ARGV[14]), 'state') == 'open' then
      redis.call('ZADD', K.waiting(ARGV[14]), redis.call('HGET', ev, 'received_at'), id)
    else
      at = now
    end
  end
  dispatch(ev, id, 15, at, now)
else
  redis.call('HSET', ev, 'next_retry_at', '')
end
return {outcome, tostring(attempts)}
