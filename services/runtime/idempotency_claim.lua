-- Claim a request id. KEY and ARG: mmsim.runtime.idempotency.CLAIM (lease_ms: of a running attempt;
-- marker: this attempt's 'running:INSTANCE'; take_over: the marker of an attempt whose service instance is
-- dead, to take over, or '').
-- Replies: {'claimed'} (the caller runs the handler) | {'running', INSTANCE} (that instance is running it)
-- | {'stored', the stored reply of the attempt that finished (JSON)}.
local v = redis.call('GET', KEY.reply)
if (not v) or (ARG.take_over ~= '' and v == ARG.take_over) then
  redis.call('SET', KEY.reply, ARG.marker, 'PX', ARG.lease_ms)
  return {'claimed'}
end
if string.sub(v, 1, 8) == 'running:' then return {'running', string.sub(v, 9)} end
return {'stored', v}
