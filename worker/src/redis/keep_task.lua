-- Record a background task in the task registry, or push its deadline on (a heartbeat), by the
-- Redis server's clock (so that workers' clocks never meet).
-- KEYS[1] the registry (a sorted set), ARGV[1] the task, ARGV[2] its lease in ms,
-- ARGV[3] 1 to renew only a task still recorded.
-- Returns 1, or 0 when renewing a task no longer recorded.
if ARGV[3] == '1' and not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[2]), ARGV[1])
return 1
