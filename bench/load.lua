-- The wrk script of make bench (bench/load.py writes its inputs and reads its last line).
--
-- BENCH_REQUESTS: a Lua file returning the requests to send, in turn: {method, path, headers, body, fresh_key}.
--   Each is formatted once per thread; one with fresh_key gets a new Idempotency-Key each time it is sent.
-- BENCH_MAX_RESPONSES: when set, the thread stops after that many responses and prints "BENCH_DONE": wrk itself
--   only stops on time, so bench/load.py then interrupts it (SIGINT ends its wait and it reports).
-- BENCH_RUN: a word that makes this run's idempotency keys its own.
-- done() prints one line, "BENCH_RESULT {json}", with the counts and the latency percentiles in microseconds.

local entries = dofile(os.getenv("BENCH_REQUESTS"))
local max_responses = tonumber(os.getenv("BENCH_MAX_RESPONSES") or "0") or 0
local run = os.getenv("BENCH_RUN") or "run"
local thread_counter = 0

function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("thread_id", thread_counter)
end

local prepared = {}
local index = 0
local sent = 0
local responses = 0

function init(args)
  for i, e in ipairs(entries) do
    if not e.fresh_key then
      prepared[i] = wrk.format(e.method, e.path, e.headers, e.body)
    end
  end
end

function request()
  index = index % #entries + 1
  local e = entries[index]
  if not e.fresh_key then
    return prepared[index]
  end
  sent = sent + 1
  local headers = {}
  for name, value in pairs(e.headers) do headers[name] = value end
  headers["Idempotency-Key"] = string.format("bench-%s-%d-%d", run, thread_id or 0, sent)
  return wrk.format(e.method, e.path, headers, e.body)
end

if max_responses > 0 then
  function response(status, headers, body)
    responses = responses + 1
    if responses == max_responses then
      wrk.thread:stop()
      io.write("BENCH_DONE\n")
      io.flush()
    end
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  local percentiles = {}
  for _, p in ipairs({50, 75, 90, 99, 99.9}) do
    percentiles[#percentiles + 1] = string.format('"%s": %d', tostring(p), latency:percentile(p))
  end
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"min": %d, "max": %d, "mean": %.1f, %s}}\n',
    summary.requests, summary.duration, summary.bytes,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency.min, latency.max, latency.mean, table.concat(percentiles, ", ")))
end
