#include "salvo/quota/gcra.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cmath>

namespace salvo::quota {

namespace {

// Numbers are Lua doubles: microseconds since the epoch (~1.8e15) stay exact
// below 2^53. The TATs are stored with their fraction ("%.17g") so that
// many small leases at a fractional interval do not drift.
constexpr std::string_view script = R"lua(
local op = ARGV[1]
local now
if ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local hold = tonumber(redis.call('GET', KEYS[3]) or '0')
if op == 'hold' then
  local untl = now + tonumber(ARGV[3])
  if untl > hold then
    redis.call('SET', KEYS[3], string.format('%.17g', untl),
               'PX', math.max(1, math.ceil((untl - now) / 1000)))
    hold = untl
  end
  return {0, 0, math.floor(hold - now)}
end
local T = {tonumber(ARGV[3]), tonumber(ARGV[4])}
if op == 'return' then
  for i = 1, 2 do
    local unused = tonumber(ARGV[4 + i])
    local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
    if T[i] > 0 and unused > 0 and tat > now then
      -- Move the TAT back by what was not used, never below now: tokens
      -- returned late do not become a burst.
      local back = math.max(now, tat - unused * T[i])
      redis.call('SET', KEYS[i], string.format('%.17g', back),
                 'PX', math.ceil((back - now) / 1000) + 1000)
    end
  end
  return {1, 0, 0}
end
if op ~= 'lease' then
  return redis.error_reply('salvo quota script: unknown operation ' .. tostring(op))
end
-- Every process sharing a quota must lease at the same rates, or the TATs
-- mean nothing: the first lease records them (for as long as leases keep
-- coming), and a lease at other rates is refused with the recorded ones.
local rates = ARGV[3] .. ' ' .. ARGV[4]
local recorded = redis.call('GET', KEYS[4])
if recorded and recorded ~= rates then
  return redis.error_reply('salvo quota: rate mismatch: ' .. recorded)
end
redis.call('SET', KEYS[4], rates, 'PX', 5000)
if hold > now then
  return {0, math.floor(hold - now), math.floor(hold - now)}
end
local n = {tonumber(ARGV[5]), tonumber(ARGV[6])}
local tolerance = tonumber(ARGV[7])
local new = {}
local wait = 0
for i = 1, 2 do
  if T[i] > 0 and n[i] > 0 then
    local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
    if tat < now then tat = now end
    local inc = n[i] * T[i]
    -- A lease larger than the tolerance still fits once the TAT is at now,
    -- so that a big request waits but never deadlocks.
    local tol = math.max(tolerance, inc)
    new[i] = tat + inc
    if new[i] - now > tol then
      wait = math.max(wait, new[i] - tol - now)
    end
  end
end
if wait > 0 then
  return {0, math.ceil(wait), 0}
end
for i = 1, 2 do
  if new[i] then
    redis.call('SET', KEYS[i], string.format('%.17g', new[i]),
               'PX', math.ceil((new[i] - now) / 1000) + 1000)
  end
end
return {1, 0, 0}
)lua";

std::string sha1_hex(std::string_view text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha1(), nullptr);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < size; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 15];
    }
    return out;
}

}  // namespace

std::string_view gcra_script() noexcept {
    return script;
}

const std::string& gcra_script_sha1() {
    static const std::string sha = sha1_hex(script);
    return sha;
}

std::array<std::string, 4> gcra_keys(std::string_view key) {
    const std::string k(key);
    return {k + ":tat:emails", k + ":tat:requests", k + ":hold-until", k + ":rates"};
}

std::uint64_t lease_size(double per_second, std::chrono::milliseconds window,
                         std::uint64_t at_least) noexcept {
    if (!(per_second > 0)) return 0;
    const double worth = std::ceil(per_second * static_cast<double>(window.count()) / 1000.0);
    return std::max<std::uint64_t>({static_cast<std::uint64_t>(worth), at_least, 1});
}

double emission_interval_us(double per_second) noexcept {
    return per_second > 0 ? 1e6 / per_second : 0;
}

}  // namespace salvo::quota
