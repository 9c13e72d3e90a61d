-- filemap_get_folios_tag: the folios carrying a mark from an index on.
-- KEYS: 1 inode, 2 xa. ARGV: 1 chunk shift, 2 first index, 3 mark, 4 limit (folios).
-- Reply: (node, pfn, order, index) per folio.
-- models filemap_get_folios_tag: tagged folios from `start`, each once
local ino = fm_inode(KEYS[1])
local xa = xa_open(KEYS[2], ARGV[1])
local out, seen = {}, {}
local maxhex = fm_hex(4503599627370495)
local idx, e = xa_find(xa, fm_hex(fm_slot(ino, tonumber(ARGV[2]))), maxhex, ARGV[3])
while idx and #out < 4 * tonumber(ARGV[4]) do
  if e:byte(1) == 112 and not seen[e] then
    seen[e] = true
    local node, pfn, order = fm_parse(e)
    local first = tonumber(idx, 16)
    if ino.mode == 'hugetlb' then first = first * 512 end
    first = first - first % fm_pow2(order)
    out[#out + 1] = node; out[#out + 1] = pfn; out[#out + 1] = order; out[#out + 1] = tostring(first)
  end
  idx, e = xa_find_after(xa, idx, maxhex, ARGV[3])
end
return out
