-- Reads buckets without changing them, and counts the replicas that
-- share them. KEYS: the n buckets, each one's limit key, then the
-- replicas' sorted set. After the time, ARGV: this replica's name ("" to
-- leave it out), then per bucket the semantic and the caller's limit
-- (-1: unlimited). Returns the replicas seen in the last 5 seconds, then
-- per bucket its available units and its limit as set live ("" if none,
-- "unlimited"), as strings: Redis turns a script's numbers into integers.
local n = (#KEYS - 1) / 2
local replicas = KEYS[#KEYS]
if ARGV[2] ~= '' then
  redis.call('ZADD', replicas, now, ARGV[2])
  redis.call('PEXPIRE', replicas, 10000)
end
redis.call('ZREMRANGEBYSCORE', replicas, '-inf', now - 5000000)
local out = {tostring(redis.call('ZCARD', replicas))}
for i = 1, n do
  local key, sem = KEYS[i], ARGV[3 + (i - 1) * 2]
  local given = tonumber(ARGV[4 + (i - 1) * 2])
  if given < 0 then
    given = nil
  end
  local limit, set = limitOf(KEYS[n + i], given)
  local avail = -1
  if limit then
    if sem == 'token-bucket' then
      avail = tokenBucket(key, limit)
    else
      avail = limit - windowCount(key)
    end
  end
  out[#out + 1] = string.format('%.17g', avail)
  if not set then
    out[#out + 1] = ''
  elseif limit then
    out[#out + 1] = string.format('%.17g', limit)
  else
    out[#out + 1] = 'unlimited'
  end
end
return out
