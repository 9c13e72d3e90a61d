-- filemap_get_entry / filemap_fault's first look (PageCache.lookup, fault_lookup), and filemap_map_pages's
-- look at the fault-around window, in one step.
-- KEYS: 1 inode, 2 xa (the mapping's XArray prefix), 3 node-0 vmstat.
-- ARGV: 1 chunk shift, 2 index (pages), 3 '1' return the entry's marks, 4 node spans, 5 'read' | 'write'
--       (a fault: count pgmajfault on a miss) | '' (a lookup), 6 fault-around first index, 7 its pages.
-- Reply: i_size, kind ('folio' | 'shared' | 'hole' | ''), node, pfn, order, first index, marks, then
-- (node, pfn, order, index) per folio cached in the fault-around window.
local ino = fm_inode(KEYS[1])
local xa = xa_open(KEYS[2], ARGV[1])
vm_spans(ARGV[4])
local f = fm_lookup(xa, ino, tonumber(ARGV[2]))
-- filemap_fault counts PGMAJFAULT at the miss, before it asks for the folio to be read
local fault = ARGV[5]
if fault ~= '' and tonumber(ARGV[2]) < math.ceil(ino.i_size / 4096)
   and (f.kind == '' or f.kind == 'shadow' or (f.kind == 'hole' and fault == 'write')) then
  redis.call('HINCRBY', KEYS[3], 'pgmajfault', 1)
end
local tags = ''
if f.kind ~= '' and ARGV[3] == '1' then
  for m = 0, 2 do tags = tags .. (xa_get_mark(xa, f.slot, m) and '1' or '0') end
end
local out
if f.kind == 'folio' then
  out = {tostring(ino.i_size), fm_is_shared(f) and 'shared' or 'folio', f.node, f.pfn, f.order, tostring(f.index), tags}
elseif f.kind == 'hole' then
  out = {tostring(ino.i_size), 'hole', 0, 0, f.order, tostring(f.index), tags}
else
  out = {tostring(ino.i_size), '', 0, 0, 0, '0', ''}
end
-- filemap_map_pages: the folios already cached in the fault-around window, below EOF
local lo, n = tonumber(ARGV[6] or '0'), tonumber(ARGV[7] or '0')
local last = math.min(lo + n, math.ceil(ino.i_size / 4096)) - 1
if n > 0 and last >= lo then
  for _, a in ipairs(fm_entries(xa, ino, lo, last)) do
    if a.kind == 'folio' then
      out[#out + 1] = a.node; out[#out + 1] = a.pfn; out[#out + 1] = a.order; out[#out + 1] = tostring(a.index)
    end
  end
end
return out
