-- models lib/xarray.c: xa_set_mark (XArray.set_mark).
-- KEY, ARG and replies: mmsim.pagecache.xarray.SET_MARK; xa: the array, opened (xarray._OPEN).
xa_set_mark(xa, ARG.index, ARG.mark)
xa_commit(xa)
return {'set'}
