-- Reset: delete every mmsim key in one step (files, processes, page caches, memmap, traces), so that no
-- operation ever sees half a machine. KEYS: none (the script finds the keys itself). ARGV[1]: the key prefix
-- pattern ("mmsim:*"). Reply: the number of keys deleted. UNLINK frees the values off the main thread.
local doomed = redis.call('KEYS', ARGV[1])
for i = 1, #doomed, 5000 do
  redis.call('UNLINK', unpack(doomed, i, math.min(i + 4999, #doomed)))
end
return #doomed
