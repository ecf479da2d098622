-- The recorded background tasks whose deadline passed, by the Redis server's clock, earliest
-- first. KEYS[1] the registry (a sorted set), ARGV[1] how many at most.
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ms, 'LIMIT', 0, tonumber(ARGV[1]))
