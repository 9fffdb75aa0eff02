-- A running attempt's keep-alive: records that its worker is alive, and tells it whether
-- it is still the event's current attempt (the reconciler may have recovered it), so a
-- superseded attempt stops before its next upstream call.
-- KEYS[1] the event. ARGV[2] attempt number, ARGV[3] now.
-- Returns 1 (current; kept alive) or 0 (no longer current; nothing written).
local ev = KEYS[1]
if redis.call('HGET', ev, 'status') ~= 'processing'
  or tonumber(redis.call('HGET', ev, 'attempts') or '0') ~= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', ev, 'alive_at', ARGV[3])
return 1
