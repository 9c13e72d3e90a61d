-- models lib/xarray.c: xas_split_alloc + xas_split (XArray.split); ARG.entry '' keeps the old entry.
-- KEY, ARG and replies: mmsim.pagecache.xarray.SPLIT; xa: the array, opened (xarray._OPEN).
xa_split(xa, ARG.index, ARG.order, ARG.entry ~= '' and ARG.entry or nil)
xa_commit(xa)
return {'split'}
