-- The pipeline gauges, from cardinalities and the heads of sorted sets (no scan).
-- KEYS: the status indexes. ARGV[2] now. Returns {counts by status, queue length,
-- oldest due time, scheduled jobs, oldest scheduled job's due time}.
local now = tonumber(ARGV[2])
local counts = {}
for i = 1, #KEYS do
  counts[#counts + 1] = redis.call('ZCARD', KEYS[i])
end
local oldest_due = redis.call('ZRANGEBYSCORE', K.due, '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1)
local oldest_scheduled = redis.call('ZRANGEBYSCORE', K.scheduled, '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1)
return {
  counts,
  redis.call('LLEN', K.queue),
  oldest_due[2] or false,
  redis.call('ZCARD', K.scheduled),
  oldest_scheduled[2] or false,
}
