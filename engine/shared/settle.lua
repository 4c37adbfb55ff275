-- Settles a reservation on the bucket KEYS[1] (KEYS[2]: its limit key, as
-- take.lua reads it): what a call used against
-- what it reserved. ARGV: the time in microseconds or "" for TIME, the
-- semantic, the limit a minute, reserved, used, and when it was reserved
-- (microseconds). The difference is given back or taken, the bucket
-- going below empty if need be; a fixed window that has turned over
-- since the reservation has forgotten it, so nothing is given back.
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local MINUTE = 60000000
local key, sem, limit = KEYS[1], ARGV[2], tonumber(ARGV[3])
local set = redis.call('GET', KEYS[2])
if set == 'unlimited' then
  return 0
elseif set then
  limit = tonumber(set)
end
local delta = tonumber(ARGV[5]) - tonumber(ARGV[4])
local reservedAt = tonumber(ARGV[6])
if sem == 'token-bucket' then
  local h = redis.call('HMGET', key, 'tokens', 'at')
  local tokens, at = tonumber(h[1]), tonumber(h[2])
  if not tokens then
    tokens, at = limit, now
  end
  if now > at then
    tokens = math.min(limit, tokens + (now - at) * limit / MINUTE)
    at = now
  end
  tokens = math.min(limit, tokens - delta)
  redis.call('HSET', key, 'tokens', string.format('%.17g', tokens), 'at', string.format('%d', at))
  redis.call('PEXPIRE', key, math.ceil((limit - tokens) * 60000 / limit) + 1000)
  return 1
end
local window = math.floor(now / MINUTE)
if delta < 0 and math.floor(reservedAt / MINUTE) ~= window then
  return 0
end
local h = redis.call('HMGET', key, 'window', 'count')
local count = 0
if tonumber(h[1]) == window then count = tonumber(h[2]) end
count = math.max(0, count + delta)
redis.call('HSET', key, 'window', string.format('%d', window), 'count', string.format('%.17g', count))
redis.call('PEXPIRE', key, math.ceil(((window + 1) * MINUTE - now) / 1000) + 1000)
return 1
