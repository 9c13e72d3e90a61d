-- models lib/xarray.c: xa_get_mark (XArray.get_mark).
-- KEY, ARG and replies: mmsim.pagecache.xarray.GET_MARK; xa: the array, opened (xarray._OPEN).
return {'mark', xa_get_mark(xa, ARG.index, ARG.mark) and 1 or 0}
