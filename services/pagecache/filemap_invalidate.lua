-- invalidate_mapping_pages(mapping, 0, -1), fenced: clean unmapped folios leave the cache.
-- KEY and ARG: mmsim.pagecache.filemap.INVALIDATE.
-- Reply: {'invalidated', folios removed, folios kept (busy), then the folios to free (node, pfn, order)...}
-- models invalidate_mapping_pages (POSIX_FADV_DONTNEED, drop_caches): drop clean, unmapped folios only
local ino = fm_inode(KEY.inode)
local xa = xa_open(KEY.xa, ARG.chunk_shift)
vm_spans(ARG.spans)
local removed, skipped = 0, 0
for _, f in ipairs(fm_entries(xa, ino, 0, 4503599627370495)) do
  if f.kind == 'folio' then
    vm_node(f.node)
    local busy = xa_get_mark(xa, f.slot, 0) or xa_get_mark(xa, f.slot, 1)
    if busy or page_get_field(f.pfn, 'mapcount') ~= -1 or page_get_field(f.pfn, 'refcount') ~= 1 then
      skipped = skipped + 1
    else
      removed = removed + 1
      fm_remove(xa, ino, f)
    end
  end
end
local out = fm_commit_reply(xa, removed, skipped)
table.insert(out, 1, 'invalidated')
return out
