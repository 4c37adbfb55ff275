-- Holds KEYS[1], a deployment's health key, out of every replica's pick
-- for ARGV[2] microseconds from now: it keeps the time the hold ends,
-- which take.lua compares with its own time.
local d = tonumber(ARGV[2])
redis.call('SET', KEYS[1], string.format('%d', now + d))
expire(KEYS[1], math.ceil(d / 1000))
return 1
