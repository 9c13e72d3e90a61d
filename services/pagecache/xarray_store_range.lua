-- models lib/xarray.c: xa_store_range (XArray.store_range): the stores xarray.range_plan planned, the xas_create of
-- ARG.create_index ('' = none) first, then ARG.chunks: (index, level, sibs) per chunk.
-- KEY, ARG and replies: mmsim.pagecache.xarray.STORE_RANGE; xa: the array, opened (xarray._OPEN).
local create = nil
if ARG.create_index ~= '' then create = {ARG.create_index, tonumber(ARG.create_level), tonumber(ARG.create_sibs)} end
local chunks = {}
for i = 1, #ARG.chunks, 3 do
  chunks[#chunks + 1] = {ARG.chunks[i], tonumber(ARG.chunks[i + 1]), tonumber(ARG.chunks[i + 2])}
end
xa_store_range(xa, ARG.entry, create, chunks)
xa_commit(xa)
return {'stored'}
