-- wrk script: POSTs one fixed Injection API request of about 47 KB
-- (10 messages with a ~4.7 KB HTML body each) to /api/v1/email.
-- Usage (README "Injection API emulator"):
--   build/rel/bench/salvo_emulator_bench --serve 8465 --discard &
--   wrk -t2 -c32 -d10s -s bench/wrk/post.lua http://127.0.0.1:8465
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
