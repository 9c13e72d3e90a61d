-- Reset: delete every mmsim key of the simulated machine in one step (files, processes, page caches,
-- memmap, traces), so that no operation ever sees half a machine. The cluster's own identity stays: the
-- boot epoch (the services go on serving the same Redis) and the service processes' heartbeats.
-- KEYS: none (the script finds the keys itself). ARGV[1]: the key prefix pattern ("mmsim:*"), ARGV[2]: the
-- boot epoch key, ARGV[3]: the heartbeat key prefix. Reply: the number of keys deleted. UNLINK frees the
-- values off the main thread.
local doomed = {}
for _, k in ipairs(redis.call('KEYS', ARGV[1])) do
  if k ~= ARGV[2] and string.sub(k, 1, #ARGV[3]) ~= ARGV[3] then doomed[#doomed + 1] = k end
end
for i = 1, #doomed, 5000 do
  redis.call('UNLINK', unpack(doomed, i, math.min(i + 4999, #doomed)))
end
return #doomed
