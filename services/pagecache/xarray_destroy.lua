-- models lib/xarray.c: xa_destroy (XArray.destroy).
-- KEY, ARG and replies: mmsim.pagecache.xarray.DESTROY; xa: the array, opened (xarray._OPEN).
xa_destroy(xa)
xa_commit(xa)
return {'destroyed'}
