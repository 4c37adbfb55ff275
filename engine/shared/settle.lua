-- Settles a reservation on the bucket KEYS[1] (KEYS[2]: its limit key):
-- what a call used against what it reserved. After the time, ARGV: the
-- semantic, the limit a minute, reserved, used, and when it was reserved
-- (microseconds). The difference is given back or taken, the bucket
-- going below empty if need be; a fixed window that has turned over
-- since the reservation has forgotten it, so nothing is given back.
local key = KEYS[1]
local limit = limitOf(KEYS[2], tonumber(ARGV[3]))
if not limit then
  return 0
end
local delta = tonumber(ARGV[5]) - tonumber(ARGV[4])
if ARGV[2] == 'token-bucket' then
  local tokens, at = tokenBucket(key, limit)
  writeTokens(key, math.min(limit, tokens - delta), at, limit)
  return 1
end
if delta < 0 and math.floor(tonumber(ARGV[6]) / MINUTE) ~= math.floor(now / MINUTE) then
  return 0
end
writeWindow(key, math.max(0, windowCount(key) + delta))
return 1
