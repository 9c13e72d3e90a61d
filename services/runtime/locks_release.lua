-- RELEASE: up_read / up_write, then wake the waiters.
-- KEYS: lock hash, wake list. ARGV: mode ('r' or 'w'), token.
-- Reply: {held (1, or 0 when the lease had already expired), waiters woken}
local key, mode, token = KEYS[1], ARGV[1], ARGV[2]
local held = 0
if mode == 'w' then
  if redis.call('HGET', key, 'w') == token then
    redis.call('HDEL', key, 'w', 'w_owner', 'w_exp')
    held = 1
  end
else
  held = redis.call('HDEL', key, 'r:' .. token, 'ro:' .. token) > 0 and 1 or 0
end
return {held, lk_wake(key, KEYS[2], lk_now())}
