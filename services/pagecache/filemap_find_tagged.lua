-- filemap_get_folios_tag: the folios carrying a mark from an index on.
-- KEY and ARG: mmsim.pagecache.filemap.FIND_TAGGED. Reply: {'tagged', (node, pfn, order, index) per folio...}
-- models filemap_get_folios_tag: tagged folios from `start`, each once
local ino = fm_inode(KEY.inode)
local xa = xa_open(KEY.xa, ARG.chunk_shift)
local out = {'tagged'}
local seen = {}
local maxhex = fm_hex(4503599627370495)
local idx, e = xa_find(xa, fm_hex(fm_slot(ino, tonumber(ARG.start))), maxhex, ARG.mark)
while idx and #out - 1 < 4 * tonumber(ARG.limit) do
  if e:byte(1) == 112 and not seen[e] then
    seen[e] = true
    local node, pfn, order = fm_parse(e)
    local first = tonumber(idx, 16)
    if ino.mode == 'hugetlb' then first = first * 512 end
    first = first - first % fm_pow2(order)
    out[#out + 1] = node; out[#out + 1] = pfn; out[#out + 1] = order; out[#out + 1] = tostring(first)
  end
  idx, e = xa_find_after(xa, idx, maxhex, ARG.mark)
end
return out
