-- PFN entries (LSFMM 2018): the destination's range gets entries for the source's clean folios, one step
-- (fenced by the destination's lock). KEY and ARG: mmsim.pagecache.filemap.SHARE.
-- Reply: {'shared', folios shared, pages shared, folios skipped}.
-- PFN entries: the source's clean folios wholly inside the range get entries in the destination too
local src, dst = fm_inode(KEY.src_inode), fm_inode(KEY.dst_inode)
local allowed = {}
for p in string.gmatch(ARG.allowed, '[^,]+') do allowed[p] = true end
local prof = redis.call('HGET', KEY.dst_inode, 'profile') or ''
if not allowed[prof] then
  fm_fail('FailedPrecondition', 'profile ' .. prof .. ' has no PFN entries: a folio has one ->mapping and ->index, '
    .. 'so ' .. KEY.dst_inode .. ' must cache its own copy')
end
local sxa, dxa = xa_open(KEY.src_xa, ARG.chunk_shift), xa_open(KEY.dst_xa, ARG.chunk_shift)
vm_spans(ARG.spans)
local s0, d0, nr = tonumber(ARG.src_index), tonumber(ARG.dst_index), tonumber(ARG.nr_pages)
local shared, pages, skipped = 0, 0, 0
for _, f in ipairs(fm_entries(sxa, src, s0, s0 + nr - 1)) do
  if f.kind == 'folio' then
    local n = fm_pow2(f.order)
    local di = d0 + (f.index - s0)
    local clean = not xa_get_mark(sxa, f.slot, 0) and not xa_get_mark(sxa, f.slot, 1)
    if f.index < s0 or f.index + n > s0 + nr or di % n ~= 0 or not clean or #fm_overlapping(dxa, dst, di, di + n - 1) > 0 then
      skipped = skipped + 1
    else
      vm_node(f.node)
      if page_get_field(f.pfn, 'mapping') == FM_SHARED then
        page_set_field(f.pfn, 'index', page_get_field(f.pfn, 'index') + 1)
      else
        page_set_field(f.pfn, 'mapping', FM_SHARED)
        page_set_field(f.pfn, 'index', 2)
      end
      page_ref_add(f.pfn, 1)
      fm_store(dxa, dst, di, f.order, fm_entry(f.node, f.pfn, f.order), '')
      redis.call('HINCRBY', KEY.dst_inode, 'nrpages', n)
      redis.call('HINCRBY', 'mmsim:{node:' .. f.node .. '}:vmstat', 'mmsim_pfn_entry_pages', n)
      shared, pages = shared + 1, pages + n
    end
  end
end
xa_commit(dxa)
return {'shared', shared, pages, skipped}
