-- Read a token's version, last applied seq and shards without the lock (one consistent read).
-- KEYS[1] meta, KEYS[2..] the shards wanted
-- Returns {version, last_seq, shard...} (a missing shard is nil).
local meta = redis.call('HMGET', KEYS[1], 'version', 'last_seq')
local out = {tonumber(meta[1] or 0), tonumber(meta[2] or 0)}
for i = 2, #KEYS do
  out[#out + 1] = redis.call('GET', KEYS[i])
end
return out
