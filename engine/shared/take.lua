-- Takes units from every bucket, or from none. KEYS: the n buckets, then
-- each one's limit key (see limitOf). After the time, ARGV holds per
-- bucket: the semantic ("token-bucket", "fixed-window", or "health": a
-- key a replica holds while a deployment cools down, until the time it
-- holds, as hold.lua writes it), the limit a
-- minute, the units, and 1 to take them or 0 only to check there is room.
-- Returns {1, now_us} when it took them; {0, now_us, i, wait_us} when
-- bucket i (from 1) had no room, with the wait until it would (-1: never).
local n = #KEYS / 2
local takes = {}
for i = 1, n do
  local key = KEYS[i]
  local sem, units = ARGV[2 + (i - 1) * 4], tonumber(ARGV[4 + (i - 1) * 4])
  local limit = limitOf(KEYS[n + i], tonumber(ARGV[3 + (i - 1) * 4]))
  if sem == 'health' then
    local til = tonumber(redis.call('GET', key))
    if til and til > now then
      return {0, now, i, til - now}
    end
  elseif limit then
    local avail, wait, take
    if sem == 'token-bucket' then
      local tokens, at = tokenBucket(key, limit)
      avail, wait = tokens, math.ceil((units - tokens) * MINUTE / limit)
      take = function() writeTokens(key, tokens - units, at, limit) end
    else
      local count = windowCount(key)
      avail, wait = limit - count, (math.floor(now / MINUTE) + 1) * MINUTE - now
      take = function() writeWindow(key, count + units) end
    end
    if avail < units - 1e-9 then
      if units > limit then
        wait = -1
      end
      return {0, now, i, wait}
    end
    if ARGV[5 + (i - 1) * 4] ~= '0' then
      takes[#takes + 1] = take
    end
  end
end
for _, take in ipairs(takes) do
  take()
end
return {1, now}
