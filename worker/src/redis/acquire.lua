-- Take a token's lock and load its shards, in one round trip.
-- KEYS[1] lock, KEYS[2] meta, KEYS[3] the tabs' follow-ups, KEYS[4..] the shards wanted
-- ARGV[1] owner id, ARGV[2] lease in ms, ARGV[3] the event's tab
-- Returns {1, version, the tab's last seq, the token's stored bytes, the follow-ups of the tab's
-- last event (nil when none), shard...} (a missing shard is nil), or {0, ms left on the lease}.
-- Re-entrant for the same owner id (ids are unique per acquisition): a worker whose connection
-- dropped after this script ran can ask again and get the lock it already has.
local mine = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
if not mine and redis.call('GET', KEYS[1]) == ARGV[1] then
  mine = redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if mine then
  local meta = redis.call('HMGET', KEYS[2], 'version', 'seq:' .. ARGV[3], 'bytes')
  local last = meta[2] and tonumber(string.match(meta[2], '^(%d+)')) or 0
  local out = {1, tonumber(meta[1] or 0), last, tonumber(meta[3] or 0),
    redis.call('HGET', KEYS[3], ARGV[3])}
  for i = 4, #KEYS do
    out[#out + 1] = redis.call('GET', KEYS[i])
  end
  return out
end
return {0, redis.call('PTTL', KEYS[1])}
