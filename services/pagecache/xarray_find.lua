-- models lib/xarray.c: xa_find / xa_find_after (XArray.find, find_after, for_each): up to ARG.limit entries from
-- ARG.start (ARG.how 'find': xa_find, else xa_find_after) to ARG.max, marked ARG.mark ('' = XA_PRESENT).
-- KEY, ARG and replies: mmsim.pagecache.xarray.FIND; xa: the array, opened (xarray._OPEN).
local mark = ARG.mark ~= '' and ARG.mark or nil
local out = {'found'}
local idx, e
if ARG.how == 'find' then idx, e = xa_find(xa, ARG.start, ARG.max, mark)
else idx, e = xa_find_after(xa, ARG.start, ARG.max, mark) end
while idx do
  out[#out + 1] = idx; out[#out + 1] = e
  if #out - 1 >= 2 * tonumber(ARG.limit) then break end
  idx, e = xa_find_after(xa, idx, ARG.max, mark)
end
return out
