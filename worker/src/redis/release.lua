-- Release a token's lock if the caller owns it. KEYS[1] lock, ARGV[1] owner id. Returns 1 or 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
