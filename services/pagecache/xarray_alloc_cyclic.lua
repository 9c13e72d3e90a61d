-- models lib/xarray.c: __xa_alloc_cyclic (XArray.alloc_cyclic).
-- KEY, ARG and replies: mmsim.pagecache.xarray.ALLOC_CYCLIC; xa: the array, opened (xarray._OPEN).
local id, wrapped, nxt = xa_alloc_cyclic(xa, ARG.entry, ARG.min, ARG.max, ARG.next)
xa_commit(xa)
return {'allocated', id, wrapped, nxt}
