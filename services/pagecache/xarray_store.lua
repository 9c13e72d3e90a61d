-- models lib/xarray.c: xa_store / the test suite's xa_store_order (XArray.store_order).
-- KEY, ARG and replies: mmsim.pagecache.xarray.STORE; xa: the array, opened (xarray._OPEN).
local old = xa_store(xa, ARG.index, ARG.order, ARG.entry)
xa_commit(xa)
return {'stored', old}
