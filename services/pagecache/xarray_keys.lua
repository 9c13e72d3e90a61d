-- the array's Redis keys (XArray.memory_bytes).
-- KEY, ARG and replies: mmsim.pagecache.xarray.KEYS; xa: the array, opened (xarray._OPEN).
local out = {'keys'}
if xa.head ~= '' then out[#out + 1] = xa.rootkey end
xa_walk(xa, function(n) out[#out + 1] = n.key end)
return out
