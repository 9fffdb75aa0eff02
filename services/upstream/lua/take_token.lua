-- GoHighLevel's sliding window, shared by every worker pod. Redis's clock, not the
-- pods', decides the window: pods' clocks may disagree. A function, so that the payment
-- step's script can take the first call's token in its own round trip
-- (services/worker/lua/begin_payment.lua). Returns 0, or the ms until one frees up.
local function take_token(key, window, limit, member)
  local now = redis.call('TIME')
  local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now_ms - window)
  if redis.call('ZCARD', key) < limit then
    redis.call('ZADD', key, now_ms, member)
    redis.call('PEXPIRE', key, window)
    return 0
  end
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now_ms)
end
