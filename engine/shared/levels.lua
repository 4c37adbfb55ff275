-- Reads buckets without changing them. ARGV as take.lua's, without the
-- units. Returns each bucket's available units, as strings (Redis turns
-- a script's numbers into integers).
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local MINUTE = 60000000
local out = {}
for i, key in ipairs(KEYS) do
  local sem, limit = ARGV[2 + (i - 1) * 2], tonumber(ARGV[3 + (i - 1) * 2])
  local avail
  if sem == 'token-bucket' then
    local h = redis.call('HMGET', key, 'tokens', 'at')
    local tokens, at = tonumber(h[1]), tonumber(h[2])
    if not tokens then
      avail = limit
    else
      avail = math.min(limit, tokens + math.max(0, now - at) * limit / MINUTE)
    end
  else
    local h = redis.call('HMGET', key, 'window', 'count')
    local count = 0
    if tonumber(h[1]) == math.floor(now / MINUTE) then count = tonumber(h[2]) end
    avail = limit - count
  end
  out[i] = string.format('%.17g', avail)
end
return out
