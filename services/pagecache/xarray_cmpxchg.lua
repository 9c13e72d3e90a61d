-- models lib/xarray.c: __xa_cmpxchg (XArray.cmpxchg).
-- KEY, ARG and replies: mmsim.pagecache.xarray.CMPXCHG; xa: the array, opened (xarray._OPEN).
local cur = xa_cmpxchg(xa, ARG.index, ARG.old, ARG.entry)
xa_commit(xa)
return {'compared', cur}
