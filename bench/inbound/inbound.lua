-- wrk script for `salvo listen`'s POST /inbound: one parsed 20 KB human
-- reply per request (headers as CustomHeaders, a 16 KB text body), each
-- with a Message-ID of its own so that nothing is a redelivery. The
-- SecretKey comes from SALVO_LISTEN_SECRET_KEY, as salvo listen reads it.
local secret = os.getenv("SALVO_LISTEN_SECRET_KEY") or "listen-secret"
local n = 0
local thread_id = 0
local text = string.rep("Thanks for the offer, a few questions about shipping. ", 300)

function setup(thread)
  thread:set("thread_id", thread_id)
  thread_id = thread_id + 1
end

request = function()
  n = n + 1
  local id = thread_id .. "-" .. n
  local body = '{"SecretKey":"' .. secret .. '","InboundMailFrom":"user' .. id ..
    '@example.com","InboundRcptTo":"news@news.example.com","InboundIpAddress":"192.0.2.1",' ..
    '"ErrorLog":null,"SpamScore":0.2,"SpamDetails":"","Message":{"TextCharSet":"utf-8",' ..
    '"HtmlCharSet":"utf-8","Subject":"Re: Spring sale","TextBody":"' .. text ..
    '","HtmlBody":"<p>' .. string.sub(text, 1, 2000) .. '</p>","MailingId":null,"MessageId":null,' ..
    '"CustomHeaders":[{"Name":"Received","Value":"from mx.example.com by inbound.socketlabs.com"},' ..
    '{"Name":"Message-ID","Value":"<r-' .. id .. '@example.com>"},' ..
    '{"Name":"In-Reply-To","Value":"<bench-user' .. id .. '@example.com@news.example.com>"},' ..
    '{"Name":"Content-Type","Value":"multipart/alternative; boundary=b"}],' ..
    '"To":[{"EmailAddress":"news@news.example.com","FriendlyName":"News"}],"Cc":[],"Bcc":[],' ..
    '"From":{"EmailAddress":"user' .. id .. '@example.com","FriendlyName":"User"},' ..
    '"ReplyTo":null,"Attachments":[],"EmbeddedMedia":[]}}'
  return wrk.format("POST", "/inbound", {["Content-Type"] = "application/json"}, body)
end

done = function(summary, latency, requests)
  io.write(string.format("p50_ms %.3f\np99_ms %.3f\nmax_ms %.3f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("non2xx %d\n", summary.errors.status))
end
