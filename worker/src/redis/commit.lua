-- Commit one applied event (or a streaming handler's flush), only while the caller still owns the
-- lock (fencing):
-- write the changed shards, refresh the expiry of the others, record the version and the event's
-- seq for its tab, publish the delta, release the lock.
-- KEYS[1] lock, KEYS[2] meta, KEYS[3] updates channel, KEYS[4] the tabs' follow-ups,
-- KEYS[5 .. 4+n] the changed shards, KEYS[5+n ..] the token's other shards
-- ARGV[1] owner id, ARGV[2] version, ARGV[3] seq, or "" for a commit of no event (a background
-- task's section: nothing is recorded for any tab), ARGV[4] expiry in ms, ARGV[5] delta frame,
-- ARGV[6] PUBLISH, or SPUBLISH on a cluster (sharded pub/sub), ARGV[7] n,
-- ARGV[8 .. 7+n] the changed shards' bytes, ARGV[8+n] the event's tab,
-- ARGV[9+n] how many tabs' seqs a token keeps, ARGV[10+n] the token's stored bytes after the commit,
-- ARGV[11+n] the event's follow-ups (a JSON array), or "" for none,
-- ARGV[12+n] 1 to release the lock (an event's commit), 0 to keep it (a streaming handler's flush),
-- ARGV[13+n] 1 when the tab has follow-ups stored that this commit replaces,
-- ARGV[14+n] 1 when this is the end of an event that flushed (its `open:<tab>` mark goes)
-- Returns 1, or 0 when the lock is not the caller's (nothing written).
-- meta holds `version`, `bytes` (all the token's states' size) and, for each tab, `seq:<tab>` =
-- "<seq>,<version of that commit>"; the follow-ups hash holds, per tab, those of its last event
-- (none: no field). Past the limit, the tab that committed longest ago is forgotten, both its seq
-- and its follow-ups (its page is long gone).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local n = tonumber(ARGV[7])
for i = 1, n do
  redis.call('SET', KEYS[4 + i], ARGV[7 + i], 'PX', ARGV[4])
end
for i = 5 + n, #KEYS do
  redis.call('PEXPIRE', KEYS[i], ARGV[4])
end
local tab = ARGV[8 + n]
local event = ARGV[3] ~= ''
if not event then
  redis.call('HSET', KEYS[2], 'version', ARGV[2], 'bytes', ARGV[10 + n])
else
  -- Most events return no follow-ups and replace none: then there is nothing to write here.
  if ARGV[11 + n] ~= '' then
    redis.call('HSET', KEYS[4], tab, ARGV[11 + n])
    redis.call('PEXPIRE', KEYS[4], ARGV[4])
  elseif ARGV[13 + n] == '1' then
    redis.call('HDEL', KEYS[4], tab)
  end
  -- HSET answers how many fields it added: more than none only for a new tab (or a new token).
  local added = redis.call('HSET', KEYS[2], 'version', ARGV[2], 'bytes', ARGV[10 + n],
    'seq:' .. tab, ARGV[3] .. ',' .. ARGV[2])
  if added > 0 and redis.call('HLEN', KEYS[2]) > tonumber(ARGV[9 + n]) + 2 then
    local all = redis.call('HGETALL', KEYS[2])
    local oldest, oldest_version = nil, nil
    for i = 1, #all, 2 do
      if string.sub(all[i], 1, 4) == 'seq:' then
        local v = tonumber(string.match(all[i + 1], '^%d+,(%d+)'))
        if oldest_version == nil or v < oldest_version then
          oldest, oldest_version = all[i], v
        end
      end
    end
    redis.call('HDEL', KEYS[2], oldest, 'open:' .. string.sub(oldest, 5))
    redis.call('HDEL', KEYS[4], string.sub(oldest, 5))
  end
end
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call(ARGV[6], KEYS[3], ARGV[5])
-- A flush marks its event open (still running) for hydrates; the event's commit clears it.
if event and ARGV[12 + n] == '0' then
  redis.call('HSET', KEYS[2], 'open:' .. tab, ARGV[3])
elseif event and ARGV[14 + n] == '1' then
  redis.call('HDEL', KEYS[2], 'open:' .. tab)
end
if ARGV[12 + n] == '1' then
  redis.call('DEL', KEYS[1])
end
return 1
