-- filemap_get_entry / filemap_fault's first look (PageCache.lookup, fault_lookup), and filemap_map_pages's
-- look at the fault-around window, in one step.
-- KEY and ARG: mmsim.pagecache.filemap.LOOKUP.
-- Replies: {kind ('folio' | 'shared' | 'hole' | 'none'), i_size, node, pfn, order, first index, marks, then
-- (node, pfn, order, index) per folio cached in the fault-around window}.
local ino = fm_inode(KEY.inode)
local xa = xa_open(KEY.xa, ARG.chunk_shift)
vm_spans(ARG.spans)
local f = fm_lookup(xa, ino, tonumber(ARG.index))
-- filemap_fault counts PGMAJFAULT at the miss, before it asks for the folio to be read
local fault = ARG.fault
if fault ~= '' and tonumber(ARG.index) < math.ceil(ino.i_size / 4096)
   and (f.kind == '' or f.kind == 'shadow' or (f.kind == 'hole' and fault == 'write')) then
  redis.call('HINCRBY', KEY.vmstat, 'pgmajfault', 1)
end
local tags = ''
if f.kind ~= '' and ARG.marks == '1' then
  for m = 0, 2 do tags = tags .. (xa_get_mark(xa, f.slot, m) and '1' or '0') end
end
local out
if f.kind == 'folio' then
  out = {fm_is_shared(f) and 'shared' or 'folio', tostring(ino.i_size), f.node, f.pfn, f.order, tostring(f.index), tags}
elseif f.kind == 'hole' then
  out = {'hole', tostring(ino.i_size), 0, 0, f.order, tostring(f.index), tags}
else
  out = {'none', tostring(ino.i_size), 0, 0, 0, '0', ''}
end
-- filemap_map_pages: the folios already cached in the fault-around window, below EOF
local lo, n = tonumber(ARG.around_start), tonumber(ARG.around_pages)
local last = math.min(lo + n, math.ceil(ino.i_size / 4096)) - 1
if n > 0 and last >= lo then
  for _, a in ipairs(fm_entries(xa, ino, lo, last)) do
    if a.kind == 'folio' then
      out[#out + 1] = a.node; out[#out + 1] = a.pfn; out[#out + 1] = a.order; out[#out + 1] = tostring(a.index)
    end
  end
end
return out
