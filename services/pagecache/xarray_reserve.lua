-- models lib/xarray.c: xa_reserve (XArray.reserve).
-- KEY, ARG and replies: mmsim.pagecache.xarray.RESERVE; xa: the array, opened (xarray._OPEN).
xa_reserve(xa, ARG.index)
xa_commit(xa)
return {'reserved'}
