-- The pipeline gauges, from cardinalities and the heads of sorted sets (no scan).
-- ARGV[3] now, ARGV[4..] the statuses. Returns {counts by status, queue length,
-- oldest due time, scheduled jobs, oldest scheduled job's due time}.
local now = tonumber(ARGV[3])
local counts = {}
for i = 4, #ARGV do
  counts[#counts + 1] = redis.call('ZCARD', P .. ':idx:status:' .. ARGV[i])
end
local oldest_due = redis.call('ZRANGEBYSCORE', P .. ':due', '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1)
local oldest_scheduled = redis.call('ZRANGEBYSCORE', RQ.scheduled, '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1)
return {
  counts,
  redis.call('LLEN', RQ.queue),
  oldest_due[2] or false,
  redis.call('ZCARD', RQ.scheduled),
  oldest_scheduled[2] or false,
}
