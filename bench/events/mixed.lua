-- wrk script for `salvo listen`: POSTs one JSON Event Webhook per request,
-- cycling through the types SocketLabs sends (Queued, Delivered, Deferred,
-- Failed, Tracking open/click, Complaint), each with a MessageId of its own
-- so that nothing is a redelivery. The SecretKey comes from the environment
-- (SALVO_LISTEN_SECRET_KEY), as salvo listen reads it.
local secret = os.getenv("SALVO_LISTEN_SECRET_KEY") or "listen-secret"
local n = 0
local thread_id = 0

function setup(thread)
  thread:set("thread_id", thread_id)
  thread_id = thread_id + 1
end

local kinds = {
  '"Type":"Queued","FromAddress":"news@example.com","Subject":"Hello","MessageSize":4711',
  '"Type":"Delivered","Response":"250 2.0.0 OK","LocalIp":"10.0.0.1","RemoteMta":"mx.example.com"',
  '"Type":"Delivered","Response":"250 2.0.0 OK","LocalIp":"10.0.0.1","RemoteMta":"mx.example.com"',
  '"Type":"Deferred","FromAddress":"news@example.com","DeferralCode":421,"Reason":"try later"',
  '"Type":"Failed","FailureType":1,"FailureCode":2001,"Reason":"no such user","BounceStatus":"5.1.1","DiagnosticCode":"smtp; 550","RemoteMta":"mx.example.com","FromAddress":"news@example.com"',
  '"Type":"Tracking","TrackingType":1,"ClientIp":"192.0.2.7","UserAgent":"Mail","Url":""',
  '"Type":"Tracking","TrackingType":0,"ClientIp":"192.0.2.7","UserAgent":"Mail","Url":"https://example.com/a"',
  '"Type":"Complaint","FblType":"abuse","UserAgent":"fbl","From":"news@example.com","To":"x@example.com","Length":1234',
}

request = function()
  n = n + 1
  local kind = kinds[(n % #kinds) + 1]
  local id = thread_id .. "-" .. n
  local body = '{' .. kind ..
    ',"DateTime":"2026-11-28T12:00:00Z","ServerId":12345,"SecretKey":"' .. secret ..
    '","Address":"user' .. id .. '@example.com","MailingId":"bench","MessageId":"m-' .. id ..
    '","Data":{"Meta":[{"Key":"k","Value":"v"}],"Tags":["bench"]}}'
  return wrk.format("POST", "/notifications", {["Content-Type"] = "application/json"}, body)
end

done = function(summary, latency, requests)
  io.write(string.format("p50_ms %.3f\np99_ms %.3f\nmax_ms %.3f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("non2xx %d\n", summary.errors.status))
end
