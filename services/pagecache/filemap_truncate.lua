-- models truncate_inode_pages_range (truncate.lua). KEYS: inode, xa.
-- ARGV: 1 chunk shift, 2 lstart (bytes), 3 lend (bytes, inclusive; -1 = to EOF), 4 node spans, 5 mapping,
-- 6 the profiles whose truncation splits non-uniformly (comma-separated)
-- -> {folios removed, bytes zeroed, folios split, splits refused, PTEs unmapped, split log, node, pfn, order...}
local function main()
  local ino = fm_inode(KEYS[1])
  local xa = xa_open(KEYS[2], ARGV[1])
  vm_spans(ARGV[4])
  local h = redis.call('HMGET', KEYS[1], 'min_order', 'policy', 'profile')
  local min = h[2] == 'fallback' and 0 or tonumber(h[1] or '0')   -- mapping_min_folio_order
  local uniform = not string.find(',' .. ARGV[6] .. ',', ',' .. (h[3] or '') .. ',', 1, true)
  TR.range(xa, ino, ARGV[5], tonumber(ARGV[2]), tonumber(ARGV[3]), min, uniform)
  xa_commit(xa)
  local out = {TR.removed, TR.zeroed, TR.split, TR.failed, TR.unmapped, table.concat(HM.log, '; ')}
  for _, x in ipairs(FM_FREED) do out[#out + 1] = x end
  return out
end
return main()
