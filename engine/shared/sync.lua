-- Reads buckets without changing them, and counts the replicas that
-- share them. KEYS: the n buckets, each one's limit key, then the
-- replicas' sorted set. ARGV[1]: the time in microseconds, or "" for
-- Redis's TIME; ARGV[2]: this replica's name, "" to leave it out; then,
-- per bucket, the semantic and the caller's limit (-1: unlimited).
-- Returns the replicas seen in the last 5 seconds, then each bucket's
-- available units and its limit as set live, if one was ("" if not), as
-- strings (Redis turns a script's numbers into integers).
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local MINUTE = 60000000
local count = (#KEYS - 1) / 2
local replicas = KEYS[#KEYS]
if ARGV[2] ~= '' then
  redis.call('ZADD', replicas, now, ARGV[2])
  redis.call('PEXPIRE', replicas, 10000)
end
redis.call('ZREMRANGEBYSCORE', replicas, '-inf', now - 5000000)
local out = {tostring(redis.call('ZCARD', replicas))}
for i = 1, count do
  local key = KEYS[i]
  local sem, limit = ARGV[3 + (i - 1) * 2], tonumber(ARGV[4 + (i - 1) * 2])
  local set = redis.call('GET', KEYS[count + i])
  if set == 'unlimited' then
    limit = -1
  elseif set then
    limit = tonumber(set)
  end
  local avail = limit
  if limit >= 0 then
    if sem == 'token-bucket' then
      local h = redis.call('HMGET', key, 'tokens', 'at')
      local tokens, at = tonumber(h[1]), tonumber(h[2])
      if tokens then
        avail = math.min(limit, tokens + math.max(0, now - at) * limit / MINUTE)
      end
    else
      local h = redis.call('HMGET', key, 'window', 'count')
      if tonumber(h[1]) == math.floor(now / MINUTE) then avail = limit - tonumber(h[2]) end
    end
  end
  out[#out + 1] = string.format('%.17g', avail)
  out[#out + 1] = set or ''
end
return out
