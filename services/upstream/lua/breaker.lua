-- An upstream's breaker, shared by every worker (one hash per upstream: state 'closed'
-- or 'open', consecutive retryable failures, and while open when the next probe may go).
-- Redis's clock decides the probe times: pods' clocks may disagree.
-- KEYS[1] the breaker. ARGV[1] 'admit' | 'success' | 'failure', ARGV[2] failures that
-- open it, ARGV[3] seconds between probes.
-- admit: {'go', failures so far} closed; {'probe'} open and this caller is the interval's one probe;
--   {'wait', seconds until the next probe}.
-- success: {'closed', '1' if this closed an open breaker}. failure: {state, failures}.
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local key, op, probe = KEYS[1], ARGV[1], tonumber(ARGV[3])
local state = redis.call('HGET', key, 'state') or 'closed'
if op == 'admit' then
  if state == 'closed' then return {'go', redis.call('HGET', key, 'failures') or '0'} end
  local next_probe = tonumber(redis.call('HGET', key, 'probe_at') or '0')
  if now >= next_probe then
    redis.call('HSET', key, 'probe_at', tostring(now + probe))
    return {'probe'}
  end
  return {'wait', tostring(next_probe - now)}
end
if op == 'success' then
  redis.call('HSET', key, 'state', 'closed', 'failures', '0')
  redis.call('HDEL', key, 'probe_at', 'opened_at')
  return {'closed', state == 'open' and '1' or '0'}
end
local failures = redis.call('HINCRBY', key, 'failures', 1)
if state == 'closed' and failures >= tonumber(ARGV[2]) then
  state = 'open'
  redis.call('HSET', key, 'state', 'open', 'opened_at', tostring(now), 'probe_at', tostring(now + probe))
end
return {state, tostring(failures)}
