-- Claim a request id (mmsim.runtime.idempotency.ClaimArgs names the arguments and replies).
-- KEYS[1] mmsim:{req:ID}:reply; ARGV[1] lease of a running attempt (ms).
-- Reply: 'claimed' (the caller runs the handler), 'running' (another attempt is running it),
-- or the stored reply of the attempt that finished (JSON).
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], 'running', 'PX', ARGV[1])
  return 'claimed'
end
return v
