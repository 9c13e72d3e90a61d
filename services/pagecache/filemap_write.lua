-- generic_perform_write's step for one cached folio (PageCache.write_folio, fenced: the writer holds i_rwsem):
-- copy_folio_from_iter_atomic into the folio covering the offset, then ->write_end's folio_mark_dirty, in one
-- step. The kernel holds the folio locked from write_begin to write_end; here no reclaim, invalidation,
-- migration or truncation can come between the copy and the mark, and none can free the folio the bytes go to.
-- Nothing is written when a zero entry, a folio shared through PFN entries or nothing covers the offset (the
-- caller creates or unshares a folio and calls again).
-- KEY, ARG and replies: mmsim.pagecache.filemap.WRITE.
local ino = fm_inode(KEY.inode)
local xa = xa_open(KEY.xa, ARG.chunk_shift)
vm_spans(ARG.spans)
local offset, data = tonumber(ARG.offset), ARG.data
local f = fm_lookup(xa, ino, math.floor(offset / 4096))
if f.kind ~= 'folio' then
  if f.kind == 'hole' then return {'hole', 0, 0, f.order, tostring(f.index), 0} end
  return {'none', 0, 0, 0, '0', 0}
end
if fm_is_shared(f) then return {'shared', f.node, f.pfn, f.order, tostring(f.index), 0} end
local fbeg = f.index * 4096
local n = math.min(#data, fbeg + 4096 * fm_pow2(f.order) - offset)
redis.call('SETRANGE', 'mmsim:{node:' .. f.node .. '}:mem:' .. f.pfn, offset - fbeg, string.sub(data, 1, n))
FM_TAG.set(xa, ino, f, 0, true)
xa_commit(xa)
return {'folio', f.node, f.pfn, f.order, tostring(f.index), n}
