-- models lib/xarray.c: xa_clear_mark (XArray.clear_mark).
-- KEY, ARG and replies: mmsim.pagecache.xarray.CLEAR_MARK; xa: the array, opened (xarray._OPEN).
xa_clear_mark(xa, ARG.index, ARG.mark)
xa_commit(xa)
return {'cleared'}
