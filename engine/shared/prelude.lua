-- The start of every script: the time, and how a bucket is read and
-- written. ARGV[1] is "" for Redis's own TIME, one clock for every
-- replica, or "s" and microseconds for a simulated clock that the
-- replicas share (Redis.WithClock). Simulated time does not pass with
-- the wall's, so on it keys do not expire when their content runs out,
-- but a day after they were last written.
local now, simulated = tonumber(ARGV[1]), false
if not now and ARGV[1] ~= '' then
  now, simulated = tonumber(string.sub(ARGV[1], 2)), true
end
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local MINUTE = 60000000

-- expire lets key go once ms of Redis's time have passed, or a day after
-- now on a simulated clock.
local function expire(key, ms)
  if simulated then
    ms = 86400000
  end
  redis.call('PEXPIRE', key, ms)
end

-- limitOf is a bucket's limit: the one set live on any replica, kept at
-- limitKey ("unlimited" or a number), or the one given. The second
-- value says whether it was set live; the first is nil when unlimited.
local function limitOf(limitKey, given)
  local set = redis.call('GET', limitKey)
  if set == 'unlimited' then
    return nil, true
  elseif set then
    return tonumber(set), true
  end
  return given, false
end

-- tokenBucket is a token bucket's content at now, refilled since it was
-- last written up to its limit, and the time it is counted from (never
-- back); a bucket that is not there is full.
local function tokenBucket(key, limit)
  local h = redis.call('HMGET', key, 'tokens', 'at')
  local tokens, at = tonumber(h[1]), tonumber(h[2])
  if not tokens then
    return limit, now
  end
  if now > at then
    return math.min(limit, tokens + (now - at) * limit / MINUTE), now
  end
  return tokens, at
end

-- writeTokens keeps a token bucket's content; once it would be full
-- again it is as good as absent, so it expires then.
local function writeTokens(key, tokens, at, limit)
  redis.call('HSET', key, 'tokens', string.format('%.17g', tokens), 'at', string.format('%d', at))
  expire(key, math.ceil((limit - tokens) * 60000 / limit) + 1000)
end

-- windowCount is what the fixed window (a clock minute) of now counted.
local function windowCount(key)
  local h = redis.call('HMGET', key, 'window', 'count')
  if tonumber(h[1]) == math.floor(now / MINUTE) then
    return tonumber(h[2])
  end
  return 0
end

-- writeWindow keeps the count of now's window, until a second after it.
local function writeWindow(key, count)
  local window = math.floor(now / MINUTE)
  redis.call('HSET', key, 'window', string.format('%d', window), 'count', string.format('%.17g', count))
  expire(key, math.ceil(((window + 1) * MINUTE - now) / 1000) + 1000)
end
