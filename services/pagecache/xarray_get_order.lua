-- models lib/xarray.c: xa_get_order (XArray.get_order).
-- KEY, ARG and replies: mmsim.pagecache.xarray.GET_ORDER; xa: the array, opened (xarray._OPEN).
return {'order', xa_get_order(xa, ARG.index)}
