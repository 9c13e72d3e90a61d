-- Claim a request id (mmsim.runtime.idempotency.ClaimArgs names the arguments and replies).
-- KEYS[1] mmsim:{req:ID}:reply; ARGV[1] lease of a running attempt (ms); ARGV[2] this attempt's marker
-- 'running:INSTANCE'; ARGV[3] the marker of an attempt whose service instance is dead, to take over, or ''.
-- Reply: 'claimed' (the caller runs the handler), 'running:INSTANCE' (that instance is running it),
-- or the stored reply of the attempt that finished (JSON).
local v = redis.call('GET', KEYS[1])
if (not v) or (ARGV[3] ~= '' and v == ARGV[3]) then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
  return 'claimed'
end
return v
