-- Reset: delete every mmsim key of the simulated machine in one step (files, processes, page caches,
-- memmap, traces), so that no operation ever sees half a machine. The cluster's own identity stays: the
-- boot epoch (the services go on serving the same Redis) and the service processes' heartbeats.
-- No KEY (the script finds the keys itself); ARG: mmsim.allocator.allocator.RESET. UNLINK frees the values off
-- the main thread. Reply: {'reset', the number of keys deleted}.
local doomed = {}
for _, k in ipairs(redis.call('KEYS', ARG.pattern)) do
  if k ~= ARG.epoch and string.sub(k, 1, #ARG.alive) ~= ARG.alive then doomed[#doomed + 1] = k end
end
for i = 1, #doomed, 5000 do
  redis.call('UNLINK', unpack(doomed, i, math.min(i + 4999, #doomed)))
end
return {'reset', #doomed}
