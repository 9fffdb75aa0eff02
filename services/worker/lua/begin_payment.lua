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
-- KEYS: lock, payment hash, tagged set, limiter window, event hash. ARGV: lock token
-- ('<event id>:<attempt>'), lock ms, updated_ts, status, limiter window / limit /
-- member, whether a GoHighLevel call follows with a remembered contact ('1'/'0') and
-- without one, the attempt number, then the state's field/value pairs.
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
redis.call('HSET', KEYS[2], 'updated_ts', ARGV[3], unpack(ARGV, 11))
if redis.call('SISMEMBER', KEYS[3], ARGV[4]) == 1 then
  redis.call('DEL', KEYS[1])
  return {'tagged'}
end
redis.call('HSET', KEYS[5], 'held_lock', KEYS[1], 'held_token', ARGV[1])
local contact = redis.call('HGET', KEYS[2], 'contact_id') or ''
local calls = ARGV[contact ~= '' and 8 or 9] == '1'
local took = calls and take_token(KEYS[4], tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]) == 0
return {'stored', contact, took and '1' or '0'}
