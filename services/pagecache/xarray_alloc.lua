-- models lib/xarray.c: __xa_alloc (XArray.alloc).
-- KEY, ARG and replies: mmsim.pagecache.xarray.ALLOC; xa: the array, opened (xarray._OPEN).
local id = xa_alloc(xa, ARG.entry, ARG.min, ARG.max)
xa_commit(xa)
return {'allocated', id}
