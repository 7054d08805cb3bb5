-- wrk script: send pre-signed CreateTokenWithIAM requests, each exactly once.
--
-- usage: wrk -t1 -c64 -d10s --latency -s bench/wrk_requests.lua http://127.0.0.1:PORT -- FILE [NTHREADS]
--
-- FILE holds complete raw HTTP/1.1 requests (written by bench/harness.py): for each request a line with its
-- length in bytes, then exactly that many bytes (request line, headers, blank line, body). Every request
-- carries its own SigV4 signature and its own single-use assertion, so none may be sent twice. NTHREADS must
-- equal wrk's -t: thread i takes requests i, i+n, i+2n, ...
--
-- If a thread runs out of requests it stops and reports exhausted=true. wrk still divides by the full -d, so
-- such a run is invalid (the orchestrator then signs a bigger file and repeats it).
--
-- done() prints one line: WRKJSON {...} with rps, latency percentiles (ms), wrk's error counters, and the
-- non-2xx count from response().

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

-- per-thread state (each wrk thread has its own Lua VM)
local pool = {}
local idx = 0
sent, ok, non2xx, exhausted, first_bad = 0, 0, 0, false, ""

function init(args)
  local path = assert(args[1], "usage: ... -- FILE [NTHREADS]")
  local nthreads = tonumber(args[2] or "1")
  local f = assert(io.open(path, "rb"))
  local i = 0
  while true do
    local line = f:read("*l")
    if not line then break end
    local n = assert(tonumber(line), "bad length line in request file")
    local raw = f:read(n)
    assert(raw and #raw == n, "truncated request file")
    if i % nthreads == tid then pool[#pool + 1] = raw end
    i = i + 1
  end
  f:close()
end

function request()
  idx = idx + 1
  if idx <= #pool then
    sent = sent + 1
    return pool[idx]
  end
  exhausted = true
  wrk.thread:stop()
  return wrk.format("GET", "/healthz")
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    non2xx = non2xx + 1
    if first_bad == "" then first_bad = status .. " " .. string.sub(body or "", 1, 300) end
  end
end

local function jstr(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function done(summary, latency, requests)
  local t = { sent = 0, ok = 0, non2xx = 0, exhausted = false, first_bad = "" }
  for _, th in ipairs(threads) do
    t.sent = t.sent + (th:get("sent") or 0)
    t.ok = t.ok + (th:get("ok") or 0)
    t.non2xx = t.non2xx + (th:get("non2xx") or 0)
    t.exhausted = t.exhausted or (th:get("exhausted") == true)
    if t.first_bad == "" then t.first_bad = th:get("first_bad") or "" end
  end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_s":%.3f,"rps":%.1f,"ok":%d,"sent":%d,"non2xx":%d,"exhausted":%s,' ..
    '"lat_ms":{"p50":%.3f,"p90":%.3f,"p99":%.3f,"max":%.3f,"mean":%.3f},' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"threads":%d,"first_bad":%s}\n',
    summary.requests, secs, summary.requests / secs, t.ok, t.sent, t.non2xx, tostring(t.exhausted),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, latency.mean / 1000,
    e.connect, e.read, e.write, e.status, e.timeout, #threads, jstr(t.first_bad)))
end
