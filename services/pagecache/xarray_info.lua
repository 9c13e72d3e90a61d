-- the array's head, root level and node count (XArray.empty, nodes, height).
-- KEY, ARG and replies: mmsim.pagecache.xarray.INFO; xa: the array, opened (xarray._OPEN).
return {'info', xa.head, tostring(xa.rlevel or -1), tostring(xa.nnodes)}
