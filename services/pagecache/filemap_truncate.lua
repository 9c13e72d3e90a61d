-- models truncate_inode_pages_range (truncate.lua). KEY and ARG: mmsim.pagecache.filemap.TRUNCATE.
-- -> {'truncated', folios removed, bytes zeroed, folios split, splits refused, PTEs unmapped, split log,
--     node, pfn, order...}
local function main()
  local ino = fm_inode(KEY.inode)
  local xa = xa_open(KEY.xa, ARG.chunk_shift)
  vm_spans(ARG.spans)
  local h = redis.call('HMGET', KEY.inode, 'min_order', 'policy', 'profile')
  local min = h[2] == 'fallback' and 0 or tonumber(h[1] or '0')   -- mapping_min_folio_order
  local uniform = not string.find(',' .. ARG.nonuniform .. ',', ',' .. (h[3] or '') .. ',', 1, true)
  TR.range(xa, ino, ARG.mapping, tonumber(ARG.lstart), tonumber(ARG.lend), min, uniform)
  xa_commit(xa)
  local out = {'truncated', TR.removed, TR.zeroed, TR.split, TR.failed, TR.unmapped, table.concat(HM.log, '; ')}
  for _, x in ipairs(FM_FREED) do out[#out + 1] = x end
  return out
end
return main()
