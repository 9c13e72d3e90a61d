-- CONFIG_DEBUG_VM-style walk of one mapping's page cache, at most ARG.budget entries per call (runs after the
-- page-cache library). KEY and ARG: mmsim.pagecache.debug_vm.WALK.
-- Reply: {'walked', JSON of {next = page index to resume at (-1 = done), folios, pages, bad = {{rule, pfn, msg}}}}
local ino = fm_inode(KEY.inode)
local xa = xa_open(KEY.xa, ARG.chunk_shift)
vm_spans(ARG.spans)
local mapping, budget = ARG.mapping, tonumber(ARG.budget)
local eof = math.ceil(ino.i_size / 4096)
local out = {next = -1, folios = 0, pages = 0, bad = {}}
local function bad(rule, pfn, msg) out.bad[#out.bad + 1] = {rule, pfn, msg} end
local function has_flag(flags, f) return bit.band(flags, f) ~= 0 end
local maxhex = fm_hex(4503599627370495)
local idx, e = xa_find(xa, fm_hex(fm_slot(ino, tonumber(ARG.start))), maxhex, nil)
while idx do
  if budget <= 0 then
    local page = tonumber(idx, 16)
    if ino.mode == 'hugetlb' then page = page * 512 end
    out.next = page
    break
  end
  budget = budget - 1
  local node, pfn, order, first
  if e:byte(1) == 112 then
    node, pfn, order = fm_parse(e)
    local at = tonumber(idx, 16)
    if ino.mode == 'hugetlb' then at = at * 512 end
    first = at - at % fm_pow2(order)
    -- an order-0-indexed folio fills 2^order slots: it is checked once, at its first slot (a walk resumed
    -- in the middle of one, after the budget ran out, does not count it again)
    if at ~= first then e = nil end
  end
  if e and e:byte(1) == 112 then
    out.folios, out.pages = out.folios + 1, out.pages + fm_pow2(order)
    vm_node(node)
    if pfn % fm_pow2(order) ~= 0 then
      bad('cache_folio_misaligned', pfn, string.format('index %d: an order-%d folio must start at a pfn aligned to %d pages', first, order, fm_pow2(order)))
    end
    local own = redis.call('HGET', VM_PREFIX .. 'owner', string.format('%d', pfn))
    local p = page_get(pfn)
    if not own then
      bad('cache_folio_not_allocated', pfn, string.format('index %d points at pfn %d, which is not an allocated block (page_owner)', first, pfn))
    elseif tonumber(string.match(own, '^(%d+)')) ~= order then
      bad('cache_folio_order', pfn, string.format('index %d: entry of order %d, allocation of order %s', first, order, string.match(own, '^(%d+)')))
    end
    if p.w2 ~= FM_SHARED then
      local mid = redis.call('HGET', VM_PREFIX .. 'intern', 'n:' .. mapping)
      if not mid or tonumber(mid) ~= p.w2 then
        bad('cache_folio_mapping', pfn, string.format('index %d: folio->mapping is %d, not this mapping (%s)', first, p.w2, tostring(mid)))
      elseif p.w3 ~= first then
        bad('cache_folio_index', pfn, string.format('folio->index is %d, the entry is at index %d', p.w3, first))
      end
    end
    if p.refcount < 1 then
      bad('cache_folio_refcount', pfn, string.format('index %d: a cached folio with _refcount %d', first, p.refcount))
    end
    if first >= eof then
      bad('cached_past_eof', pfn, string.format('index %d is at or past EOF (i_size %d bytes = %d pages)', first, ino.i_size, eof))
    end
    -- the LRU (mm/swap.c folio_add_lru, mm/vmscan.c lruvec_add_folio): every cached folio is on exactly one of
    -- its node's file lists, the one PG_active names; a hugetlbfs folio is on none
    local m = string.format('%d', pfn)
    local on_inactive = redis.call('ZSCORE', LRU.key(node, 'lru:inactive_file'), m)
    local on_active = redis.call('ZSCORE', LRU.key(node, 'lru:active_file'), m)
    if ino.mode == 'hugetlb' then
      if on_inactive or on_active then
        bad('lru_hugetlb_folio', pfn, string.format('index %d: a hugetlbfs folio on an LRU list (hugetlb pages never are)', first))
      end
    elseif on_inactive and on_active then
      bad('lru_folio_on_two_lists', pfn, string.format('index %d: the folio is on both the inactive and the active file list', first))
    elseif not on_inactive and not on_active then
      bad('lru_folio_not_on_lru', pfn, string.format('index %d: a cached folio on no LRU list (reclaim can never find it)', first))
    elseif (on_active and true or false) ~= has_flag(p.flags, FM_PG_ACTIVE) then
      bad('lru_folio_active_flag', pfn, string.format('index %d: on the %s list, PG_active %s', first,
        on_active and 'active' or 'inactive', has_flag(p.flags, FM_PG_ACTIVE) and 'set' or 'clear'))
    end
  end
  idx, e = xa_find_after(xa, idx, maxhex, nil)
end
return {'walked', cjson.encode(out)}
