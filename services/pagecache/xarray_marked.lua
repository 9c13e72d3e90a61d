-- models lib/xarray.c: xa_marked (XArray.marked).
-- KEY, ARG and replies: mmsim.pagecache.xarray.MARKED; xa: the array, opened (xarray._OPEN).
return {'marked', xa_marked(xa, tonumber(ARG.mark)) and 1 or 0}
