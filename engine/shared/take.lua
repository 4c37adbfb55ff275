-- Takes units from every bucket, or from none. KEYS: the n buckets, then
-- each one's limit key, which holds a limit set live on any replica
-- ("unlimited", or a number) that overrides the one the caller passes.
-- ARGV[1]: the time in microseconds, or "" for Redis's own TIME.
-- Then, per key: the semantic ("token-bucket" or "fixed-window"), the
-- limit a minute, the units, and 1 to take them or 0 only to check there
-- is room for them.
-- Returns {1, now_us} when it took them; {0, now_us, i, wait_us} when
-- bucket i (from 1) had no room, with the wait until it would (-1: never).
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local MINUTE = 60000000
local state = {}
local count = #KEYS / 2
for i = 1, count do
  local key = KEYS[i]
  local sem, limit, n = ARGV[2 + (i - 1) * 4], tonumber(ARGV[3 + (i - 1) * 4]), tonumber(ARGV[4 + (i - 1) * 4])
  local set = redis.call('GET', KEYS[count + i])
  if set == 'unlimited' then
    sem = 'none'
  elseif set then
    limit = tonumber(set)
  end
  local avail, wait
  if sem == 'none' then
    avail, wait = n, 0
    state[i] = {sem}
  elseif sem == 'health' then
    -- A deployment another replica put in cooldown, or whose circuit it
    -- opened: its key lives as long as that lasts.
    local left = redis.call('PTTL', key)
    if left > 0 then
      return {0, now, i, left * 1000}
    end
    avail, wait = n, 0
    state[i] = {'none'}
  elseif sem == 'token-bucket' then
    local h = redis.call('HMGET', key, 'tokens', 'at')
    local tokens, at = tonumber(h[1]), tonumber(h[2])
    if not tokens then
      tokens, at = limit, now
    end
    if now > at then
      tokens = math.min(limit, tokens + (now - at) * limit / MINUTE)
      at = now
    end
    avail = tokens
    state[i] = {sem, key, tokens, at, limit}
    if n > limit then wait = -1 else wait = math.ceil((n - avail) * MINUTE / limit) end
  else
    local window = math.floor(now / MINUTE)
    local h = redis.call('HMGET', key, 'window', 'count')
    local count = 0
    if tonumber(h[1]) == window then count = tonumber(h[2]) end
    avail = limit - count
    state[i] = {sem, key, count, window, limit}
    if n > limit then wait = -1 else wait = (window + 1) * MINUTE - now end
  end
  if avail < n - 1e-9 then
    return {0, now, i, wait}
  end
end
for i, s in ipairs(state) do
  local n = tonumber(ARGV[4 + (i - 1) * 4])
  if ARGV[5 + (i - 1) * 4] == '0' or s[1] == 'none' then
    -- only checked, or unlimited
  elseif s[1] == 'token-bucket' then
    local tokens = s[3] - n
    redis.call('HSET', s[2], 'tokens', string.format('%.17g', tokens), 'at', string.format('%d', s[4]))
    -- Once full again the bucket is as good as absent.
    redis.call('PEXPIRE', s[2], math.ceil((s[5] - tokens) * 60000 / s[5]) + 1000)
  else
    redis.call('HSET', s[2], 'window', string.format('%d', s[4]), 'count', string.format('%.17g', s[3] + n))
    redis.call('PEXPIRE', s[2], math.ceil(((s[4] + 1) * MINUTE - now) / 1000) + 1000)
  end
end
return {1, now}
