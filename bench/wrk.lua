-- Drives one endpoint with requests read from $BENCH_REQUESTS ("METHOD PATH [JSON BODY]" per
-- line), picked at random, and prints one BENCH_JSON line that bench/run.py parses.
-- Responses outside 2xx are counted per thread and summed in done(): a run of 401s is no bench.

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local headers = {
    ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN"),
    ["Content-Type"] = "application/json",
  }
  prepared = {}
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    local method, path, body = line:match("^(%S+) (%S+) ?(.*)$")
    if body == "" then body = nil end
    table.insert(prepared, wrk.format(method, path, headers, body))
  end
  non2xx = 0
  math.randomseed(id * 7919)
end

function request()
  return prepared[math.random(#prepared)]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "socket_errors": %d, "non2xx": %d, '
      .. '"p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration,
    errors.connect + errors.read + errors.write + errors.timeout, bad,
    latency:percentile(50), latency:percentile(99), latency.max))
end
