-- models lib/xarray.c: xa_erase (XArray.erase).
-- KEY, ARG and replies: mmsim.pagecache.xarray.ERASE; xa: the array, opened (xarray._OPEN).
local old = xa_erase(xa, ARG.index)
xa_commit(xa)
return {'erased', old}
