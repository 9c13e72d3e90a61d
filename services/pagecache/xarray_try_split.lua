-- models lib/xarray.c: xas_try_split (XArray.try_split); ARG.entry '' keeps the old entry.
-- KEY, ARG and replies: mmsim.pagecache.xarray.TRY_SPLIT; xa: the array, opened (xarray._OPEN).
xa_try_split(xa, ARG.index, ARG.order, ARG.entry ~= '' and ARG.entry or nil)
xa_commit(xa)
return {'split'}
