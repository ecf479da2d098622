-- Read a token's version, a tab's last applied seq, the token's stored bytes and shards without
-- the lock (one consistent read).
-- KEYS[1] meta, KEYS[2] the tabs' follow-ups, KEYS[3..] the shards wanted; ARGV[1] the tab
-- Returns {version, the tab's last seq, stored bytes, the follow-ups of the tab's last event (nil
-- when none), shard...} (a missing shard is nil). An event whose streaming handler is still
-- running (it flushed, `open:<tab>` names its seq, and it has not committed) is not reported as
-- applied: its tab keeps it in flight and gets its answer when it ends.
local meta = redis.call('HMGET', KEYS[1], 'version', 'seq:' .. ARGV[1], 'bytes', 'open:' .. ARGV[1])
local last = meta[2] and tonumber(string.match(meta[2], '^(%d+)')) or 0
if meta[4] and tonumber(meta[4]) == last and last > 0 then
  last = last - 1
end
local out = {tonumber(meta[1] or 0), last, tonumber(meta[3] or 0),
  redis.call('HGET', KEYS[2], ARGV[1])}
for i = 3, #KEYS do
  out[#out + 1] = redis.call('GET', KEYS[i])
end
return out
