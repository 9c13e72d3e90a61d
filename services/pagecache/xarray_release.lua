-- models lib/xarray.c: xa_release (XArray.release).
-- KEY, ARG and replies: mmsim.pagecache.xarray.RELEASE; xa: the array, opened (xarray._OPEN).
xa_release(xa, ARG.index)
xa_commit(xa)
return {'released'}
