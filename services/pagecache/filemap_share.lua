-- PFN entries (LSFMM 2018): the destination's range gets entries for the source's clean folios, one step
-- (fenced by the destination's lock). KEYS: 1 src inode, 2 src xa, 3 dst inode, 4 dst xa.
-- ARGV: 1 chunk shift, 2 src index, 3 dst index, 4 pages, 5 node spans, 6 profiles allowing PFN entries (',').
-- Reply: folios shared, pages shared, folios skipped.
-- PFN entries: the source's clean folios wholly inside the range get entries in the destination too
local src, dst = fm_inode(KEYS[1]), fm_inode(KEYS[3])
local allowed = {}
for p in string.gmatch(ARGV[6], '[^,]+') do allowed[p] = true end
local prof = redis.call('HGET', KEYS[3], 'profile') or ''
if not allowed[prof] then
  fm_fail('FailedPrecondition', 'profile ' .. prof .. ' has no PFN entries: a folio has one ->mapping and ->index, '
    .. 'so ' .. KEYS[3] .. ' must cache its own copy')
end
local sxa, dxa = xa_open(KEYS[2], ARGV[1]), xa_open(KEYS[4], ARGV[1])
vm_spans(ARGV[5])
local s0, d0, nr = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
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
      redis.call('HINCRBY', KEYS[3], 'nrpages', n)
      redis.call('HINCRBY', 'mmsim:{node:' .. f.node .. '}:vmstat', 'mmsim_pfn_entry_pages', n)
      shared, pages = shared + 1, pages + n
    end
  end
end
xa_commit(dxa)
return {shared, pages, skipped}
