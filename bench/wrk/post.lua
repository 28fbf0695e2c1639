-- wrk script: POSTs one fixed Injection API request. Without arguments, a
-- built-in one of about 47 KB (10 messages with a ~4.7 KB HTML body each)
-- to /api/v1/email. Usage (docs/emulator.md):
--   build/rel/bench/salvo_emulator_bench --serve 8465 --discard &
--   wrk -t2 -c32 -d10s -s bench/wrk/post.lua http://127.0.0.1:8465
-- With a file argument, that file's bytes, to the URL's path, as
-- `Content-Type: application/json` (bench/limit/run.sh passes a request
-- written by `salvo preview --request`):
--   wrk -t1 -c32 -d8s -s bench/wrk/post.lua http://127.0.0.1:PORT/api/v1/email -- body.json
local url_path = wrk.path
local paragraph = "<p>Hello from salvo, this is a benchmark paragraph.</p>"
local html = string.rep(paragraph, 85)
local messages = {}
for i = 1, 10 do
  messages[i] = string.format(
    '{"To":[{"EmailAddress":"user%d@example.com","FriendlyName":"User %d"}],'
      .. '"From":{"EmailAddress":"news@example.com","FriendlyName":"News"},'
      .. '"Subject":"Benchmark %d","HtmlBody":"%s"}',
    i, i, i, html)
end
wrk.method = "POST"
wrk.path = "/api/v1/email"
wrk.headers["Content-Type"] = "application/json; charset=utf-8"
wrk.body = '{"ServerId":12345,"ApiKey":"bench-key","Messages":[' .. table.concat(messages, ",") .. "]}"

-- Runs in each thread before its first request; the request is built after.
function init(args)
  if args[1] == nil then return end
  local f = assert(io.open(args[1], "rb"))
  wrk.body = f:read("*a")
  f:close()
  assert(#wrk.body > 0, "post.lua: " .. args[1] .. " is empty")
  if url_path ~= nil and url_path ~= "" and url_path ~= "/" then wrk.path = url_path end
  wrk.headers["Content-Type"] = "application/json"
end
