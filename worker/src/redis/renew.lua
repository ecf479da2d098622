-- Extend a token's lock lease if the caller owns it. KEYS[1] lock, ARGV[1] owner, ARGV[2] lease ms.
-- Returns 1, or 0 when the lock is no longer the caller's.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
