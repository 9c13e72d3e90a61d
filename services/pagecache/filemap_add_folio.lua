-- __filemap_add_folio (PageCache.insert_folio): the in-flight folio taken over from the ledger, its XArray
-- entry, its contents and allocation counts, and the caller's invalidate_lock released, in one step (fenced).
-- KEY, ARG and replies: mmsim.pagecache.filemap.ADD_FOLIO.
-- models __filemap_add_folio: -EEXIST on any real folio in the range; zero/value entries are replaced.
-- A populate's insert also completes its read (ARG.fill = '1': ARG.contents are stored in the same step: the
-- folio enters the cache uptodate with its bytes), counts its allocation (ARG.count_alloc = '1': thp_file_alloc
-- at PMD order, mTHP file_alloc above order 0, and ARG.fallback_orders, the orders that failed before, as
-- *_fallback; filemap_add_folio counts MTHP_STAT_FILE_ALLOC) and releases the caller's lock (ARG.unlock = '1').
-- A write's new folio enters dirty (ARG.dirty = '1'): no clean moment in which drop_caches or reclaim could take
-- its bytes.
local ino = fm_inode(KEY.inode)
local stale = fm_stale(KEY.inode, ARG.data_seq)
if stale then return stale end
local index, order, node, pfn = tonumber(ARG.index), tonumber(ARG.order), ARG.node, ARG.pfn
local nr = fm_pow2(order)
if index % nr ~= 0 then
  fm_fail('InvalidArgument', 'index ' .. ARG.index .. ' is not aligned to the folio size (order ' .. order .. ')')
end
if ino.mode == 'hugetlb' and order ~= 9 then
  fm_fail('FailedPrecondition', 'a hugetlb mapping holds only order-9 (2 MiB) folios, not order ' .. order)
end
local xa = xa_open(KEY.xa, ARG.chunk_shift)
local last = index + nr - 1
local olds = fm_overlapping(xa, ino, index, last)
for _, o in ipairs(olds) do
  if o[2]:byte(1) == 112 then
    local wn, wp, wo = fm_parse(o[2])
    local wi = tonumber(o[1], 16)
    if ino.mode == 'hugetlb' then wi = wi * 512 end
    return {'exists', wn, wp, wo, tostring(wi - wi % fm_pow2(wo))}
  end
end
vm_spans(ARG.spans)
vm_node(node)
local lost = ledger_check_take(tonumber(pfn), ARG.trace)   -- the folio leaves the in-flight ledger here
if lost then fm_fail('FailedPrecondition', lost) end
local owner = page_get_field(tonumber(pfn), 'mapping')   -- __filemap_add_folio's VM_BUG_ON_FOLIO(folio->mapping)
if owner ~= 0 then
  fm_fail('FailedPrecondition', 'pfn ' .. pfn .. ' already has a ->mapping (' .. (mapping_name(owner) or owner) ..
          '): it is in a page cache or mapped anonymous memory, not a new folio')
end
ledger_drop(tonumber(pfn))
local shadow, holes = nil, 0
for _, o in ipairs(olds) do
  if o[2] == FM_HOLE then holes = holes + fm_punch_hole_entry(xa, ino, o[1], index, last)
  else   -- a workingset shadow: read (the one at `index` first); a larger one is split (xas_split): the pages
         -- outside the new folio keep it
    local so = xa_get_order(xa, o[1])
    local hs = tonumber(o[1], 16)
    hs = hs - hs % fm_pow2(so)
    local he = hs + fm_pow2(so) - 1
    if not shadow or (hs <= index and index <= he) then shadow = o[2] end
    fm_store(xa, ino, hs, so, '', 'shadow')
    if hs < index then fm_store_holes(xa, ino, hs, index - 1, o[2]) end
    if he > last then fm_store_holes(xa, ino, last + 1, he, o[2]) end
  end
end
fm_store(xa, ino, index, order, fm_entry(node, pfn, order), '')
if ARG.dirty == '1' then
  FM_TAG.set(xa, ino, {slot = fm_hex(fm_slot(ino, index)), node = node, pfn = tonumber(pfn), order = order,
                      index = index}, 0, true)
end
xa_commit(xa)
vm_node(node)
page_flags_set(tonumber(pfn), tonumber(ARG.flags))   -- the folio is uptodate (populated) and on the LRU
if ino.mode ~= 'hugetlb' then   -- hugetlbfs folios are never on the LRU
  local active, workingset = false, false
  if shadow then active, workingset = WS.refault(tonumber(node), nr, shadow) end
  LRU.add(tonumber(node), tonumber(pfn), nr, active)   -- folio_add_lru
  if workingset then page_flags_set(tonumber(pfn), FM_PG_WORKINGSET) end
end
page_set_field(tonumber(pfn), 'mapping', mapping_intern(ARG.mapping))   -- folio->mapping, folio->index
page_set_field(tonumber(pfn), 'index', index)
local nrpages = redis.call('HINCRBY', KEY.inode, 'nrpages', nr)
redis.call('HINCRBY', KEY.vmstat, 'nr_file_pages', nr)
if order == 9 then redis.call('HINCRBY', KEY.vmstat, 'nr_file_hugepages', 1) end
if ARG.fill == '1' then redis.call('SET', 'mmsim:{node:' .. node .. '}:mem:' .. pfn, ARG.contents) end
if ARG.count_alloc == '1' then
  local function count(o, what)
    if o == 9 then redis.call('HINCRBY', KEY.vmstat, 'thp_file_' .. what, 1) end
    if o > 0 then
      redis.call('HINCRBY', 'mmsim:{node:' .. node .. '}:mthp_stats', string.format('%dkB:file_', 4 * fm_pow2(o)) .. what, 1)
    end
  end
  for o in string.gmatch(ARG.fallback_orders, '%d+') do count(tonumber(o), 'fallback') end
  count(order, 'alloc')
end
local out = {'added', nrpages, holes}
return fm_unlocked(out, ARG.unlock)
