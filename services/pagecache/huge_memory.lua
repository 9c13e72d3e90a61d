-- mmsim huge-page library: mm/huge_memory.c's split of a page-cache folio, done in the caller's script step.
-- Needs, before it: the XArray, vmemmap and page-cache libraries (filemap.lua) and the reverse map's
-- RMAP_LUA_LIB + RMAP_WALK_LUA_LIB (services/rmap/lua.py). Its functions are fields of one table, HM: the
-- scripts that include it are near Lua's limit of 200 locals.
--
-- A split (__folio_split -> __split_unmapped_folio) changes, atomically:
--   the XArray     the folio's multi-order entry split as xas_split does it, then each new folio stored at
--                  its index (the marks -- dirty, writeback -- are copied by the split);
--   struct page    every new folio re-headed: PG_head (only if still large), flags, ->mapping, ->index and
--                  memcg inherited from the old head, the first tail's folio order, compound_head in the tails;
--                  _mapcount stays per page; _refcount = the page cache's reference + one per PTE;
--   page owner     one record per new folio (split_page_owner); the folio bytes, one mem:PFN per new head;
--   the PTEs       every PTE of every process that maps a page of the folio names its new head and order
--                  (remap_page after unmap_folio: the PTEs come back pointing at the new folios);
--   counters       thp_split_page / thp_split_page_failed (PMD order only), per-size split / split_failed
--                  (count_mthp_stat), nr_file_hugepages.

local HM = {log = {}}

-- the new folios of a split of an order-`order` folio to order `new`, as {page offset, order} by offset:
-- uniform (split_huge_page_to_list_to_order), or buddy-like around page offset `at` (folio_split: the
-- half without `at` stays whole at each step)
function HM.pieces(order, new, at, uniform)
  local out, upper, base = {}, {}, 0
  if uniform then
    for off = 0, XA_POW2[order] - 1, XA_POW2[new] do out[#out + 1] = {off, new} end
    return out
  end
  for k = order - 1, new, -1 do
    local half = XA_POW2[k]
    if at < base + half then upper[#upper + 1] = {base + half, k}
    else out[#out + 1] = {base, k}; base = base + half end
  end
  out[#out + 1] = {base, new}
  for i = #upper, 1, -1 do out[#out + 1] = upper[i] end
  return out
end

-- xas_split_alloc + xas_split of the entry of `order` at page `index` into entries of order `new`: one tree
-- level per step (xas_split_alloc's limit), so small chunk shifts split in several steps
function HM.xa_split(xa, index, order, new)
  local t = math.max(new, (math.floor(order / xa.cs) - 1) * xa.cs)
  xa_split(xa, fm_hex(index), t)
  if t > new then
    for i = 0, XA_POW2[order - t] - 1 do HM.xa_split(xa, index + i * XA_POW2[t], t, new) end
  end
end

-- count_vm_event(THP_SPLIT_PAGE[_FAILED]) for PMD-sized folios and count_mthp_stat(order, MTHP_STAT_SPLIT[_FAILED])
function HM.count(f, ok)
  if f.order == 9 then rm_stat(f.node, ok and 'thp_split_page' or 'thp_split_page_failed', 1) end
  redis.call('HINCRBY', node_key(f.node, 'mthp_stats'), I(XA_POW2[f.order] * 4) .. 'kB:' .. (ok and 'split' or 'split_failed'), 1)
end

-- the struct pages of one new folio of order `po` at pfn h (index idx, ->mapping mid), from the old head's record hp
local function hm_rehead(hp, mid, h, po, idx, refcount)
  local p = page_get(h)
  p.flags = u32(bit.band(hp.flags, bit.bnot(PG_HEAD)))
  if po > 0 then p.flags = u32(bit.bor(p.flags, PG_HEAD)) end
  p.w0, p.w1, p.w2, p.w3, p.w4, p.refcount, p.memcg = 0, 0, mid, idx, 0, refcount, hp.memcg
  page_put(h, p)
  for t = 1, XA_POW2[po] - 1 do
    local tp = page_get(h + t)
    tp.flags, tp.w0, tp.w1, tp.w2, tp.w3, tp.w4, tp.refcount = 0, h * 2 + 1, 0, 0, 0, 0, 0
    if t == 1 then tp.w1, tp.w2 = po, -1 end   -- folio order, _entire_mapcount -1 (as prep_compound_page)
    page_put(h + t, tp)
  end
end

-- split page-cache folio f (fm_lookup's table) of mapping `mapping` to order `new`, at page offset `at`.
-- Refused, with the reason, as __folio_split refuses: not below the folio's order (-EINVAL, which covers
-- the mapping's minimum order: callers never ask below it), a folio shared through PFN entries (-EBUSY),
-- references beyond the page cache's and the PTEs' (-EAGAIN: a pin, GUP). hugetlb folios are never split.
-- Returns the new folios (fm_lookup tables, by index) or nil, why.
function HM.split(xa, ino, mapping, f, new, at, uniform)
  if ino.mode == 'hugetlb' then return nil, 'a hugetlb folio is not split' end
  local nr = XA_POW2[f.order]
  local ptes = rm_folio_ptes(mapping, f.index, nr, f.node, f.pfn)
  local pmds = #RM.folio_pmds(mapping, f.index, nr, f.node, f.pfn)
  vm_node(f.node)
  local hp = page_get(f.pfn)
  local why
  if new >= f.order then why = 'EINVAL: order ' .. new .. ' (the mapping minimum) is not below the folio order'
  elseif fm_is_shared(f) then why = 'EBUSY: the folio is shared through PFN entries'
  elseif hp.refcount ~= 1 + #ptes + pmds then
    why = string.format('EAGAIN: _refcount %d but the page cache, %d PTEs and %d PMDs explain %d', hp.refcount, #ptes,
      pmds, 1 + #ptes + pmds)
  end
  HM.count(f, why == nil)
  if why then
    HM.log[#HM.log + 1] = string.format('pfn %d order %d: refused (%s)', f.pfn, f.order, why)
    return nil, why
  end
  -- unmap_folio: the PMDs go first (TTU_SPLIT_HUGE_PMD; a file VMA's PMD is zapped, its pages refault by PTEs)
  RM.split_folio_pmds(mapping, f.index, nr, f.node, f.pfn)
  vm_node(f.node)
  hp = page_get(f.pfn)
  local pieces = HM.pieces(f.order, new, at, uniform)
  local piece_of, refs = {}, {}
  for i, pc in ipairs(pieces) do
    for o = pc[1], pc[1] + XA_POW2[pc[2]] - 1 do piece_of[o] = i end
    refs[i] = 1
  end
  for _, t in ipairs(ptes) do
    local i = piece_of[t.p.pfn - f.pfn]
    refs[i] = refs[i] + 1
  end
  if ino.mode == 'multi-order' then
    if uniform then
      HM.xa_split(xa, f.index, f.order, new)
    else
      local base = 0
      for k = f.order, new + 1, -1 do   -- xas_try_split: one order at a time, on the half holding `at`
        xa_try_split(xa, fm_hex(f.index + base), k - 1)
        if at >= base + XA_POW2[k - 1] then base = base + XA_POW2[k - 1] end
      end
    end
    redis.call('HINCRBY', ino.key, 'xa_folio_entries', #pieces - 1)
  end
  local mid = mapping_intern(mapping)   -- a PFN-entry folio back to one mapping is that mapping's again
  local owner = node_key(f.node, 'owner')
  local gfp = string.match(redis.call('HGET', owner, I(f.pfn)) or '', '^%d+:(.*)$') or '0'
  local bytes = redis.call('GET', node_key(f.node, 'mem:' .. I(f.pfn))) or ''
  local out, orders = {}, {}
  for i, pc in ipairs(pieces) do
    local off, po = pc[1], pc[2]
    local h, idx = f.pfn + off, f.index + off
    fm_store(xa, ino, idx, po, fm_entry(f.node, h, po), 'folio')
    hm_rehead(hp, mid, h, po, idx, refs[i])
    if off > 0 then LRU.add_piece(f.node, f.pfn, h) end
    redis.call('HSET', owner, I(h), I(po) .. ':' .. gfp)
    local b = string.sub(bytes, off * 4096 + 1, (off + XA_POW2[po]) * 4096)
    if #b > 0 then redis.call('SET', node_key(f.node, 'mem:' .. I(h)), b)
    else redis.call('DEL', node_key(f.node, 'mem:' .. I(h))) end
    out[i] = {kind = 'folio', node = f.node, pfn = h, order = po, index = idx, slot = fm_hex(fm_slot(ino, idx))}
    orders[i] = I(po)
  end
  for _, t in ipairs(ptes) do
    local pc = pieces[piece_of[t.p.pfn - f.pfn]]
    t.p.head, t.p.order = f.pfn + pc[1], pc[2]
    redis.call('HSET', mm_key(t.pid, 'pte'), I(t.vpn), pte_encode(t.p))
  end
  if f.order == 9 then rm_stat(f.node, 'nr_file_hugepages', -1) end
  HM.log[#HM.log + 1] = string.format('pfn %d order %d -> %s (%d PTEs kept)', f.pfn, f.order, table.concat(orders, ','), #ptes)
  return out
end
