-- models lib/xarray.c: xa_dump (XArray.dump): the root, then one record per node, parents first: level, first index,
-- count, nr_values, the three marks' hex bitmaps, then (offset, entry) per occupied slot.
-- KEY, ARG and replies: mmsim.pagecache.xarray.DUMP; xa: the array, opened (xarray._OPEN).
local out = {'dump', xa.head, tostring(xa.rlevel or -1), tostring(xa.nnodes), tostring(xa.cs),
  (xa.xmarks[0] and '1' or '0') .. (xa.xmarks[1] and '1' or '0') .. (xa.xmarks[2] and '1' or '0')}
xa_walk(xa, function(n)
  local d = {}
  for k = 0, xa.L - 1 do
    local p = xa.L - k
    d[k] = (k > n.level) and (XA_ALPHA:find(n.path:sub(p, p), 1, true) - 1) or 0
  end
  local rec = {tostring(n.level), xa_hex(xa, d), tostring(n.count), tostring(n.values)}
  for m = 0, 2 do rec[#rec + 1] = xa_set2hex(xa, n.marks[m]) end
  for off = 0, xa.size - 1 do
    if n.s[off] then rec[#rec + 1] = tostring(off); rec[#rec + 1] = n.s[off] end
  end
  out[#out + 1] = rec
end)
return out
