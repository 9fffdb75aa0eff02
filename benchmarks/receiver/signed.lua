-- wrk script for benchmarks/receiver_bench.py: cycles through pre-signed Mercado Pago
-- notifications (HMAC-SHA256 is not available in wrk's LuaJIT, so Python signs them
-- beforehand), one distinct notification id per request, and tallies the answers.
-- Arguments (after `--`): the signed-requests file, the number of wrk threads.
-- File lines: <data.id> TAB <notification id> TAB <x-request-id> TAB <x-signature>.

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local path, count = args[1], tonumber(args[2] or "1")
  items = {}
  local n = 0
  for line in io.lines(path) do
    -- Each thread takes every count-th line, so threads never share a notification.
    if n % count == thread_id - 1 then
      items[#items + 1] = line
    end
    n = n + 1
  end
  item_count = #items
  position = 0
  statuses = {}
  duplicates = 0
  samples = {}
end

function request()
  position = position + 1
  local line = items[(position - 1) % #items + 1]
  local data_id, webhook_id, request_id, signature = line:match("([^\t]+)\t([^\t]+)\t([^\t]+)\t([^\t]+)")
  local body = '{"id":' .. webhook_id .. ',"type":"payment","action":"payment.updated","live_mode":false,'
    .. '"date_created":"2024-05-01T12:00:00.000-04:00","user_id":44444,"api_version":"v1","data":{"id":"' .. data_id .. '"}}'
  return wrk.format("POST", "/webhooks/mp", {
    ["Content-Type"] = "application/json",
    ["x-signature"] = signature,
    ["x-request-id"] = request_id,
  }, body)
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status ~= 200 then
    if #samples < 5 then samples[#samples + 1] = key .. " " .. string.sub(body or "", 1, 200) end
  elseif string.find(body, "already_received", 1, true) then
    duplicates = duplicates + 1
  end
end

local function quote(text)
  return '"' .. string.gsub(string.gsub(text, '\\', '\\\\'), '"', '\\"') .. '"'
end

function done(summary, latency, requests)
  local codes, all_samples, dups, generated = {}, {}, 0, 0
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses")) do
      codes[code] = (codes[code] or 0) + count
    end
    for _, sample in ipairs(thread:get("samples")) do
      all_samples[#all_samples + 1] = quote(sample)
    end
    dups = dups + thread:get("duplicates")
    generated = generated + thread:get("item_count")
  end
  local code_parts = {}
  for code, count in pairs(codes) do
    code_parts[#code_parts + 1] = quote(code) .. ":" .. count
  end
  local e = summary.errors
  io.write(string.format(
    'WRK-RESULT {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,"statuses":{%s},"already_received":%d,'
      .. '"distinct_available":%d,"samples":[%s]}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    table.concat(code_parts, ","), dups, generated, table.concat(all_samples, ",")))
end
