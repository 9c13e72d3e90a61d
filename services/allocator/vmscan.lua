-- mmsim reclaim of one node's LRU lists at one priority (models mm/vmscan.c shrink_lruvec with get_scan_count's
-- SCAN_FILE: there is no swap, so can_reclaim_anon_pages is false and the anon lists are neither scanned nor
-- aged (can_age_anon_pages); the file lists: shrink_active_list, shrink_inactive_list -> shrink_folio_list,
-- folio_check_references, __remove_mapping;
-- mm/rmap.c folio_referenced and try_to_unmap through rmap_walk_file). Runs after the page cache's libraries
-- (xarray, vmemmap, filemap with LRU, workingset) and the reverse map's (RMAP_LUA_LIB, RMAP_WALK_LUA_LIB).
-- One atomic step: every folio it frees leaves the page cache and enters the in-flight ledger
-- ('cache-free') in the same step, so a reclaimer that dies before its FreePages leaves it to the recovery
-- pass; nothing is ever unowned.
--
-- ARG: mmsim.allocator.vmscan.SHRINK (priority: DEF_PRIORITY 12 .. 0: scan the lists >> priority, at least
-- SWAP_CLUSTER_MAX pages, as get_scan_count does).
-- Reply: {'scanned', lru pages (both lists, before the pass), scanned, reclaimed, activated, deactivated, refill,
--         dirty, dirty_skipped, writeback, unmap_fail, ptes_unmapped, busy, ref_keep, shadows, n_pageout,
--         (mapping, index, nr_pages) * n_pageout, (node, pfn, order) of every folio to free...}
-- (the body is a function of its own: the libraries before it use most of the main chunk's 200 locals)
local function main()
  local CS = ARG.chunk_shift
  vm_spans(ARG.spans)
  local NODE, PRIORITY, NR_TO_RECLAIM = tonumber(ARG.node), tonumber(ARG.priority), tonumber(ARG.nr_to_reclaim)
  local SWAP_CLUSTER_MAX = 32
  local MAY_WRITEPAGE, KSWAPD, TASK = ARG.may_writepage == '1', ARG.kswapd == '1', ARG.task
  local PG_REFERENCED, PG_WORKINGSET, PG_RECLAIM = VS_PG.referenced, VS_PG.workingset, VS_PG.reclaim
  local SC = {scanned = 0, reclaimed = 0, activated = 0, deactivated = 0, refill = 0, dirty = 0, dirty_skipped = 0,
              writeback = 0, unmap_fail = 0, unmapped = 0, busy = 0, ref_keep = 0, shadows = 0}
  local PAGEOUT, OPEN = {}, {}
  local NOW = (function() local t = redis.call('TIME'); return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end)()
  local INACTIVE, ACTIVE = LRU.key(NODE, 'lru:inactive_file'), LRU.key(NODE, 'lru:active_file')

  -- the page cache of a mapping, opened once per script (every change goes through the same XArray state)
  local function vs_open(mapping)
    if not OPEN[mapping] then
      OPEN[mapping] = {ino = fm_inode(map_key(mapping, 'inode')), xa = xa_open(map_key(mapping, 'xa'), CS)}
    end
    return OPEN[mapping]
  end

  -- the page-cache folio an LRU entry names (its struct page's ->mapping and ->index), or nil when the entry is
  -- stale (the folio left the cache: it is dropped from the list) or the folio is shared through PFN entries
  -- (several mappings: it is kept where it is)
  local function vs_folio(pfn)
    vm_node(NODE)
    local p = page_get(pfn)
    if page_is_type(p, PT_BUDDY) or p.refcount < 1 or p.w2 == 0 then return nil, 'stale' end
    if p.w2 == MAPPING_SHARED then return nil, 'shared' end
    local mapping = mapping_name(p.w2)
    if not mapping or redis.call('EXISTS', map_key(mapping, 'inode')) == 0 then return nil, 'stale' end
    local t = vs_open(mapping)
    local f = fm_lookup(t.xa, t.ino, p.w3)
    if f.kind ~= 'folio' or f.pfn ~= pfn or f.node ~= NODE then return nil, 'stale' end
    f.nr, f.flags, f.mapping, f.t = XA_POW2[f.order], p.flags, mapping, t
    return f
  end

  -- folio_referenced: the young PTEs mapping the folio, each made old (ptep_clear_flush_young), and whether
  -- one of them is in a VM_EXEC vma
  local function vs_referenced(f)
    local young, exec = 0, false
    local function one(t, key, field, vpn)
      if has(t.p.bits, PTE_YOUNG) then
        young = young + 1
        t.p.bits = t.p.bits - PTE_YOUNG
        redis.call('HSET', mm_key(t.pid, key), I(field), pte_encode(t.p))
        local v = redis.call('ZREVRANGEBYSCORE', mm_key(t.pid, 'vmas'), I(vpn * 4096), '-inf', 'LIMIT', 0, 1)[1]
        if v and has(cjson.decode(v).f, VM_EXEC) then exec = true end
      end
    end
    for _, t in ipairs(rm_folio_ptes(f.mapping, f.index, f.nr, f.node, f.pfn)) do one(t, 'pte', t.vpn, t.vpn) end
    -- a young PMD is one reference (pmdp_clear_young_notify)
    for _, t in ipairs(RM.folio_pmds(f.mapping, f.index, f.nr, f.node, f.pfn)) do one(t, 'pmd', t.idx, t.idx * 512) end
    vm_node(NODE)
    return young, exec
  end

  -- folio_check_references
  local function vs_check_references(f)
    local ptes, exec = vs_referenced(f)
    local referenced = has(f.flags, PG_REFERENCED)   -- folio_test_clear_referenced
    if referenced then page_flags_clear(f.pfn, PG_REFERENCED) end
    if ptes > 0 then
      page_flags_set(f.pfn, PG_REFERENCED)
      if referenced or ptes > 1 or exec then return 'activate' end
      return 'keep'
    end
    if referenced then return 'reclaim_clean' end
    return 'reclaim'
  end

  local function vs_keep(f)   -- back to the head of the inactive list (putback)
    local seq = redis.call('HINCRBY', LRU.key(NODE, 'lruvec'), 'seq', 1)
    redis.call('ZADD', INACTIVE, 'XX', seq, I(f.pfn))
  end

  local function vs_activate(f)   -- activate_locked: onto the active list, pgactivate, the clock ages
    LRU.del(NODE, f.pfn, f.nr)
    LRU.add(NODE, f.pfn, f.nr, true)
    WS.age_nonresident(NODE, f.nr)
    SC.activated = SC.activated + f.nr
  end

  -- an entry vs_folio could not use: a stale one just goes (it has no pages to uncount), a folio shared through
  -- PFN entries rotates to the head (reclaim leaves it to the mappings that share it)
  local function vs_skip(key, pfn, why)
    if why == 'stale' then redis.call('ZREM', key, I(pfn)); return end
    redis.call('ZADD', key, 'XX', redis.call('HINCRBY', LRU.key(NODE, 'lruvec'), 'seq', 1), I(pfn))
  end

  -- shrink_active_list: the tail folios go inactive (folio_clear_active, folio_set_workingset) unless a young
  -- PTE in a VM_EXEC mapping gives executable code one more trip around the active list
  local function shrink_active_list(nr_to_scan)
    local scanned = 0
    for _, m in ipairs(redis.call('ZRANGE', ACTIVE, 0, nr_to_scan - 1)) do
      if scanned >= nr_to_scan then break end
      local pfn = tonumber(m)
      local f, why = vs_folio(pfn)
      if f then
        scanned = scanned + f.nr
        local young, exec = vs_referenced(f)
        if young > 0 and exec then
          local seq = redis.call('HINCRBY', LRU.key(NODE, 'lruvec'), 'seq', 1)
          redis.call('ZADD', ACTIVE, 'XX', seq, m)
        else
          LRU.del(NODE, pfn, f.nr)
          LRU.add(NODE, pfn, f.nr, false)
          page_flags_set(pfn, PG_WORKINGSET)
          SC.deactivated = SC.deactivated + f.nr
        end
      else vs_skip(ACTIVE, pfn, why) end
    end
    SC.refill = SC.refill + scanned
  end

  -- shrink_folio_list for one isolated inactive folio
  local function shrink_folio(f)
    local xa, ino = f.t.xa, f.t.ino
    SC.scanned = SC.scanned + f.nr
    if xa_get_mark(xa, f.slot, 1) then   -- under writeback: keep it, marked for immediate reclaim
      page_flags_set(f.pfn, PG_RECLAIM)
      SC.writeback = SC.writeback + f.nr
      return vs_keep(f)
    end
    local ref = vs_check_references(f)
    if ref == 'activate' then return vs_activate(f) end
    if ref == 'keep' then SC.ref_keep = SC.ref_keep + f.nr; return vs_keep(f) end
    if page_get_field(f.pfn, 'refcount') > 1 then   -- mapped: try_to_unmap through the rmap walk
      SC.unmapped = SC.unmapped + rm_unmap_folio(f.mapping, f.index, f.nr, f.node, f.pfn, true)
      vm_node(NODE)
      if page_get_field(f.pfn, 'refcount') > 1 then   -- a pin the PTEs do not explain
        SC.unmap_fail = SC.unmap_fail + f.nr
        return vs_activate(f)
      end
    end
    if xa_get_mark(xa, f.slot, 0) then   -- dirty
      SC.dirty = SC.dirty + f.nr
      if ref == 'reclaim_clean' then return vs_keep(f) end
      if not MAY_WRITEPAGE then   -- !may_enter_fs: GFP_NOFS / a memalloc_nofs scope
        SC.dirty_skipped = SC.dirty_skipped + f.nr
        return vs_keep(f)
      end
      if has(f.flags, PG_RECLAIM) then   -- written once and still dirty: the writeback failed or it was redirtied
        page_flags_clear(f.pfn, PG_RECLAIM)
        return vs_activate(f)
      end
      -- pageout: the caller asks the filesystem to write it; it waits at the tail for the next pass
      page_flags_set(f.pfn, PG_RECLAIM)
      PAGEOUT[#PAGEOUT + 1] = f
      local tail = redis.call('ZRANGE', INACTIVE, 0, 0, 'WITHSCORES')
      redis.call('ZADD', INACTIVE, 'XX', (tonumber(tail[2]) or 0) - 1, I(f.pfn))
      return
    end
    -- another task writing the file may hold its folios (write_begin's reference): __remove_mapping's freeze
    -- would fail. The writer's own reclaim (from inside its allocation) holds none of them at that moment.
    local w = redis.call('HMGET', map_key(f.mapping, 'lock:i_rwsem'), 'w', 'w_exp', 'w_owner')
    if w[1] and tonumber(w[2] or '-1') >= NOW and w[3] ~= TASK then SC.busy = SC.busy + f.nr; return vs_keep(f) end
    -- __remove_mapping: the shadow replaces the folio in the XArray, the folio goes to the ledger
    local shadow = WS.eviction(NODE, f.nr, has(f.flags, PG_WORKINGSET))
    fm_remove(xa, ino, f)
    fm_store(xa, ino, f.index, f.order, shadow, '')
    SC.shadows = SC.shadows + 1
    SC.reclaimed = SC.reclaimed + f.nr
  end

  -- shrink_inactive_list: isolate from the tail until nr_to_scan pages are scanned or enough are reclaimed
  local function shrink_inactive_list(nr_to_scan)
    for _, m in ipairs(redis.call('ZRANGE', INACTIVE, 0, nr_to_scan - 1)) do
      if SC.scanned >= nr_to_scan or SC.reclaimed >= NR_TO_RECLAIM then break end
      local f, why = vs_folio(tonumber(m))
      if f then shrink_folio(f) else vs_skip(INACTIVE, tonumber(m), why) end
    end
  end

  local sizes = redis.call('HMGET', LRU.key(NODE, 'vmstat'), 'nr_inactive_file', 'nr_active_file')
  local INACTIVE_PAGES, ACTIVE_PAGES = tonumber(sizes[1] or '0'), tonumber(sizes[2] or '0')
  local NR_TO_SCAN = math.max(SWAP_CLUSTER_MAX, math.floor((INACTIVE_PAGES + ACTIVE_PAGES) / 2 ^ PRIORITY))

  -- inactive_is_low: inactive * inactive_ratio < active, inactive_ratio = int_sqrt(10 * GB of the lists) or 1
  local function inactive_is_low()
    local gb = math.floor((INACTIVE_PAGES + ACTIVE_PAGES) / 262144)
    local ratio = gb > 0 and math.floor(math.sqrt(10 * gb)) or 1
    return INACTIVE_PAGES * ratio < ACTIVE_PAGES
  end

  if inactive_is_low() then shrink_active_list(NR_TO_SCAN) end
  shrink_inactive_list(NR_TO_SCAN)
  for _, t in pairs(OPEN) do xa_commit(t.xa) end
  local vm, who = LRU.key(NODE, 'vmstat'), KSWAPD and 'kswapd' or 'direct'
  for name, v in pairs({['pgscan_' .. who] = SC.scanned, ['pgsteal_' .. who] = SC.reclaimed, pgscan_file = SC.scanned,
                        pgsteal_file = SC.reclaimed, pgactivate = SC.activated, pgdeactivate = SC.deactivated,
                        pgrefill = SC.refill}) do
    if v > 0 then redis.call('HINCRBY', vm, name, v) end
  end
  local out = {'scanned', INACTIVE_PAGES + ACTIVE_PAGES, SC.scanned, SC.reclaimed, SC.activated, SC.deactivated, SC.refill, SC.dirty, SC.dirty_skipped,
               SC.writeback, SC.unmap_fail, SC.unmapped, SC.busy, SC.ref_keep, SC.shadows, #PAGEOUT}
  for _, f in ipairs(PAGEOUT) do out[#out + 1] = f.mapping; out[#out + 1] = I(f.index); out[#out + 1] = f.nr end
  for _, x in ipairs(FM_FREED) do out[#out + 1] = x end
  for _, x in ipairs(rm_freed_flat()) do out[#out + 1] = x end
  return out
end
return main()
