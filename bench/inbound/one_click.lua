-- wrk script for `salvo listen`'s POST /unsubscribe?t=TOKEN: cycles through
-- the valid tokens in the file named by SALVO_BENCH_TOKENS (one per line,
-- each a different address), with the RFC 8058 body.
local tokens = {}
for line in io.lines(os.getenv("SALVO_BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local n = 0
local thread_id = 0
local threads = 1

function setup(thread)
  thread:set("thread_id", thread_id)
  thread_id = thread_id + 1
end

request = function()
  n = n + 1
  local t = tokens[((n * 7 + thread_id) % #tokens) + 1]
  return wrk.format("POST", "/unsubscribe?t=" .. t,
    {["Content-Type"] = "application/x-www-form-urlencoded"}, "List-Unsubscribe=One-Click")
end

done = function(summary, latency, requests)
  io.write(string.format("p50_ms %.3f\np99_ms %.3f\nmax_ms %.3f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("non2xx %d\n", summary.errors.status))
end
