-- The payment path's first step in one round trip: check that the attempt is still its
-- event's current one (a late worker whose attempt was recovered takes nothing), take
-- the payment's lock (SET NX PX: two events of one payment, a webhook and an IPN say,
-- never run its steps at once, so a status is tagged once; it expires at the attempt's
-- deadline, so a dead worker cannot hold it longer than its attempt could have run),
-- store the state if it is at least as new as the stored one, read what the handler
-- needs next, and take the GoHighLevel limiter's token for the first call that follows
-- (tags for a remembered contact, else the search), if one does. Only the next call's
-- token is taken here: a token taken earlier would be counted before its request is
-- sent. The lock is released here when nothing else will happen under it (older state,
-- status already tagged); otherwise it is registered on the event, and the event
-- store's `finish` releases it when the attempt ends (see finish.lua).
-- KEYS: lock, payment hash, tagged set, limiter window, event hash, the payments index,
-- the index of the new status. ARGV: lock token ('<event id>:<attempt>'), lock ms,
-- updated_ts, status, limiter window / limit / member, whether a GoHighLevel call
-- follows with a remembered contact ('1'/'0') and without one, the attempt number, the
-- payment's index member, then the state's field/value pairs.
-- Storing the state also moves the payment in its indexes (Keys.all_payments): its hash
-- remembers its member and status index, so the old entries go in the same step.
-- Returns {'stale'} | {'locked'} | {'older', stored status, stored date_last_updated} |
-- {'tagged'} | {'stored', remembered contact id or '', '1' if the token was taken}.
if redis.call('HGET', KEYS[5], 'status') ~= 'processing'
  or tonumber(redis.call('HGET', KEYS[5], 'attempts') or '0') ~= tonumber(ARGV[10]) then
  return {'stale'}
end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'locked'} end
local stored = tonumber(redis.call('HGET', KEYS[2], 'updated_ts') or '-1')
if stored > tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1])
  local old = redis.call('HMGET', KEYS[2], 'status', 'date_last_updated')
  return {'older', old[1] or '', old[2] or ''}
end
local previous = redis.call('HMGET', KEYS[2], 'index_member', 'status_index')
if previous[1] then
  redis.call('ZREM', KEYS[6], previous[1])
  redis.call('ZREM', previous[2], previous[1])
end
redis.call('ZADD', KEYS[6], 0, ARGV[11])
redis.call('ZADD', KEYS[7], 0, ARGV[11])
redis.call('HSET', KEYS[2], 'updated_ts', ARGV[3], 'index_member', ARGV[11], 'status_index', KEYS[7],
  unpack(ARGV, 12))
if redis.call('SISMEMBER', KEYS[3], ARGV[4]) == 1 then
  redis.call('DEL', KEYS[1])
  return {'tagged'}
end
redis.call('HSET', KEYS[5], 'held_lock', KEYS[1], 'held_token', ARGV[1])
local contact = redis.call('HGET', KEYS[2], 'contact_id') or ''
local calls = ARGV[contact ~= '' and 8 or 9] == '1'
local took = calls and take_token(KEYS[4], tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]) == 0
return {'stored', contact, took and '1' or '0'}
