-- models lib/xarray.c: __xa_insert (XArray.insert).
-- KEY, ARG and replies: mmsim.pagecache.xarray.INSERT; xa: the array, opened (xarray._OPEN).
xa_insert(xa, ARG.index, ARG.entry)
xa_commit(xa)
return {'inserted'}
