-- models lib/xarray.c: xa_load (XArray.load).
-- KEY, ARG and replies: mmsim.pagecache.xarray.LOAD; xa: the array, opened (xarray._OPEN).
return {'loaded', xa_load(xa, ARG.index)}
