-- The fault path's library (after the page-cache library and rmap.lua): the parts of mm/memory.c and
-- mm/filemap.c that both fault scripts run, the fast one (fault_begin.lua: filemap_map_pages found the folio)
-- and the slow one (finish_fault.lua: after ->fault, PageCache.Fault). All RM.* fields: a composed script
-- stays under Lua's 200 locals. PG_LOCKED comes from mmsim.rmap.lua (the allocator's flag table).

-- the mapcount limit and action in force: the process's override (mm hash), else the mapping's profile (VMA)
function RM.policy(vma, proc_limit, proc_action)
  local limit = tonumber(proc_limit or '0') or 0
  if limit == 0 then limit = tonumber(vma.lim or 0) end
  local action = proc_action
  if not action or action == '' then action = vma.act or 'none' end
  return limit, action
end

-- do_fault_around (mm/memory.c): the window of file pages around a read fault at vpn, fault_around_bytes
-- worth of pages aligned down, clamped to the VMA and to the page table (PMD) that maps the address.
-- Returns (first file index, pages); (0, 0) when fault-around is off (fault_around_bytes <= PAGE_SIZE).
function RM.around_window(vma, vpn, fault_around_bytes)
  local nr = math.floor(fault_around_bytes / 4096)
  if nr <= 1 then return 0, 0 end
  local pte_off = vpn % 512
  local vma_off = vpn - vma.s / 4096
  local from = math.max(pte_off - pte_off % nr, pte_off - math.min(pte_off, vma_off))
  local to = math.min(from + nr, 512, pte_off + (vma.e - vma.s) / 4096 - vma_off)
  return vma.pg + vma_off - (pte_off - from), to - from
end

-- finish_fault's plan for a file folio (mm/memory.c): the whole large folio when (a) its virtual range lies
-- inside the VMA, (b) it does not cross a page table (PMD, 512 pages) and (c) it ends at or before the
-- file's last page (needs_fallback: file_end < folio_next_index); otherwise the faulting page only.
-- Returns (first file index, first vpn, pages).
function RM.fault_plan(vma, vpn, index, findex, order, isz)
  local nr = 2 ^ order
  if nr > 1 then
    local vstart = vma.s / 4096 + (findex - vma.pg)
    local vend = vstart + nr
    local fits_vma = findex >= vma.pg and vend <= vma.e / 4096
    local fits_table = math.floor(vstart / 512) == math.floor((vend - 1) / 512)
    if fits_vma and fits_table and findex + nr <= math.ceil(isz / 4096) then return findex, vstart, nr end
  end
  return index, vpn, 1
end

-- do_set_pmd's conditions (mm/memory.c) for mapping file folio F by one PMD: a PMD-order folio,
-- thp_vma_suitable_order (vm_start - vm_pgoff pages a multiple of HPAGE_PMD_NR and the 2 MiB around the address
-- inside the VMA), pmd_none (no PTE of this process in those 2 MiB), the whole folio below EOF (mm/memory.c maps no
-- page past i_size). The mapcount policy counts PTEs: with a limit in force the folio is PTE-mapped, and so is a
-- folio whose _entire_mapcount or _refcount could not take one more.
function RM.pmd_suitable(K, F)
  local vma = F.vma
  if F.order ~= 9 or (vma.s / 4096 - vma.pg) % 512 ~= 0 then return false end
  local hv = F.vpn - F.vpn % 512
  if hv < vma.s / 4096 or hv + 512 > vma.e / 4096 or vma.pg + hv - vma.s / 4096 ~= F.findex then return false end
  if F.findex + 512 > math.ceil(F.isz / 4096) then return false end
  if F.limit > 0 and F.action ~= 'none' then return false end
  if redis.call('ZCOUNT', K.pte_idx, I(hv), I(hv + 511)) > 0 then return false end
  vm_node(F.node)
  return page_get_field(F.head + 1, 'w2') < INT_MAX - 1 and F.hp.refcount < INT_MAX
end

-- the folios cached in the window [lo, lo + n) below EOF (filemap_map_pages's walk of i_pages), as
-- {node, head, order, index} each
function RM.cached_around(xa, ino, lo, n)
  local out = {}
  local last = math.min(lo + n, math.ceil(ino.i_size / 4096)) - 1
  if n > 0 and last >= lo then
    for _, a in ipairs(fm_entries(xa, ino, lo, last)) do
      if a.kind == 'folio' then out[#out + 1] = {a.node, a.pfn, a.order, a.index} end
    end
  end
  return out
end

-- the folio at the faulting index, as filemap_map_pages's next_uptodate_folio accepts it under RCU: a
-- folio entry (not a zero entry or a shadow), a reference can be taken (not free), uptodate, not locked,
-- below EOF. Nil otherwise: ->fault (PageCache.Fault) decides. Returns the folio, its head's struct page,
-- the inode and the XArray.
function RM.uptodate_folio(mapping, index, cs)
  local ikey = map_key(mapping, 'inode')
  if redis.call('EXISTS', ikey) == 0 then return nil end   -- ->fault answers for a file that is gone
  local ino = fm_inode(ikey)
  if index >= math.ceil(ino.i_size / 4096) then return nil end
  local xa = xa_open(map_key(mapping, 'xa'), cs)
  local f = fm_lookup(xa, ino, index)
  if f.kind ~= 'folio' then return nil end
  vm_node(f.node)
  local hp = page_get(f.pfn)
  if page_is_type(hp, PT_BUDDY) or hp.refcount <= 0 or not has(hp.flags, PG_UPTODATE) or has(hp.flags, PG_LOCKED) then
    return nil
  end
  return f, hp, ino, xa
end

-- finish_fault (mm/memory.c) for a file folio ('file'), do_cow_fault's anonymous copy ('cow') and the shared
-- zero page ('zero'), once the caller checked the folio and the PTE are still what the fault saw.
-- K: the script's KEY table (mm, pte, pte_idx, pagemaps). F: pid, vma (decoded), vpn, index (the faulting
-- file page), kind, write_shared, node, head, order, findex (the folio's first index), isz (i_size, bytes),
-- major, limit, action, old (the PTE replaced, '' none), hp (the head's struct page), anon_node, anon_pfn,
-- trace (the fault's trace: owner of the in-flight COW page), around (folios {node, head, order, index} of
-- the fault-around window), around_first, around_pages.
-- Replies: {'ok', nr, first vpn, pfn, pinned, around mapped, node, head, order, freed...}, 'killed', 'lost', 'retry'.
function RM.finish(K, F)
  local kind, node, head, order = F.kind, F.node, F.head, F.order
  local nr, first_vpn, first_pfn = 1, F.vpn, head + (F.index - F.findex)
  local around_mapped = 0
  local pmd = kind == 'file' and F.old == '' and RM.pmd_suitable(K, F)
  if pmd then
    nr, first_vpn, first_pfn = 512, F.vpn - F.vpn % 512, head
  elseif kind == 'file' and F.old == '' then
    local pi, pv, pn = RM.fault_plan(F.vma, F.vpn, F.index, F.findex, order, F.isz)
    local none = pn > 1
    for i = 0, pn - 1 do
      if none and redis.call('HEXISTS', K.pte, I(pv + i)) == 1 then none = false end
    end
    if none then nr, first_vpn, first_pfn = pn, pv, head + (pi - F.findex) end
  end

  -- the mapcount-overflow policy (LSFMM 2018): per-process mappings of each page, and the 32-bit _mapcount
  local over, overflow, pinned = nil, {}, 0
  if kind == 'file' and not pmd then
    for i = 0, nr - 1 do
      local pfn = first_pfn + i
      local c = tonumber(redis.call('HGET', K.pagemaps, I(node) .. ':' .. I(pfn)) or '0')
      if F.limit > 0 and F.action ~= 'none' and c + 1 > F.limit then
        over = string.format('pfn %d would be mapped %d times by pid %d (mapcount_limit %d)', pfn, c + 1, F.pid, F.limit)
      end
      if page_get_field(pfn, 'mapcount') + 1 > INT_MAX then
        overflow[i] = true
        over = over or string.format('_mapcount of pfn %d would pass INT_MAX', pfn)
      end
    end
    if over and F.action ~= 'leak' then
      rm_teardown(F.pid)
      local reason = 'killed by the mapcount limit: ' .. over
      redis.call('HSET', K.mm, 'state', 'killed', 'killed_reason', reason)
      rm_stat(node, 'pgfault', 1)
      local out = {'killed', reason, rm_evictable()}
      for _, x in ipairs(rm_freed_flat()) do out[#out + 1] = x end
      return out
    end
    if over then
      -- leak: pin the folio with one reference that is never dropped, then map as usual
      vm_node(node)
      if redis.call('SADD', node_key(node, 'rmap_pinned'), I(head)) == 1 then page_ref_add(head, 1) end
      pinned = 1
    end
  end

  if F.write_shared and kind == 'file' and not has(F.hp.flags, PG_DIRTY) then
    -- do_shared_fault dirtied the folio (do_page_mkwrite) before this step; a writeback cleaned it since:
    -- a writable PTE on a clean folio would let a store escape the next writeback
    return {'retry', 'writeback cleaned the folio before its PTE was made writable'}
  end
  if kind == 'cow' then
    -- the new anonymous page leaves the in-flight ledger as it is mapped (F.trace: the fault's trace)
    vm_node(F.anon_node)
    local lost = ledger_check_take(F.anon_pfn, F.trace)
    if lost then return {'lost', lost} end
    ledger_drop(F.anon_pfn)
  end
  if F.old ~= '' then rm_zap(F.pid, F.vpn, F.old) end  -- do_wp_page's COW replaces the read-only PTE

  local vpn = F.vpn
  if kind == 'zero' then
    -- a hole (zero entry): map the shared zero page read-only; it has no rmap and takes no reference
    redis.call('HSET', K.pte, I(vpn), pte_encode({pfn = 0, head = 0, order = 0, node = node, bits = PTE_YOUNG + PTE_ZERO}))
    redis.call('ZADD', K.pte_idx, I(vpn), I(vpn))
    first_pfn, head = 0, 0
  elseif pmd then
    -- do_set_pmd: one PMD maps the folio (folio_add_file_rmap_pmd, one reference, MM_FILEPAGES + HPAGE_PMD_NR,
    -- thp_file_mapped); filemap_map_pmd maps nothing around it
    vm_node(node)
    local bits = PTE_YOUNG + PTE_PMD
    if F.write_shared then bits = bit.bor(bits, PTE_WRITE + PTE_DIRTY) end
    redis.call('HSET', mm_key(F.pid, 'pmd'), I(first_vpn / 512), pte_encode({pfn = head, head = head, order = order, node = node, bits = bits}))
    RM.rmap_pmd(node, head, 1)
    page_ref_add(head, 1)
    redis.call('HINCRBY', K.mm, 'rss_file', nr)
    rm_stat(node, 'thp_file_mapped', 1)
  elseif kind == 'file' then
    vm_node(node)
    local bits = PTE_YOUNG
    if F.write_shared then bits = bit.bor(bits, PTE_WRITE + PTE_DIRTY) end
    for i = 0, nr - 1 do
      local pfn, v = first_pfn + i, first_vpn + i
      local b = bits
      if overflow[i] then b = bit.bor(b, PTE_NOMC)
      elseif page_mapcount_add(pfn, 1) == 0 and RM.counts_mapped(head, order) then rm_stat(node, 'nr_mapped', 1) end
      redis.call('HSET', K.pte, I(v), pte_encode({pfn = pfn, head = head, order = order, node = node, bits = b}))
      redis.call('ZADD', K.pte_idx, I(v), I(v))
      redis.call('HINCRBY', K.pagemaps, I(node) .. ':' .. I(pfn), 1)
    end
    page_ref_add(head, nr)
    redis.call('HINCRBY', K.mm, 'rss_file', nr)
    around_mapped = rm_fault_around(F.vma, F.vma.m, F.isz, F.limit, F.action, K, F.around, F.around_first, F.around_pages)
  else
    -- do_cow_fault / wp_page_copy: copy the page-cache page into the new anonymous page and map that
    local anode, apfn = F.anon_node, F.anon_pfn
    local src = redis.call('GETRANGE', node_key(node, 'mem:' .. I(head)), (first_pfn - head) * 4096, (first_pfn - head) * 4096 + 4095)
    if #src > 0 then redis.call('SET', node_key(anode, 'mem:' .. I(apfn)), src)
    else redis.call('DEL', node_key(anode, 'mem:' .. I(apfn))) end
    vm_node(anode)
    page_set_field(apfn, 'mapping', RM.anon_root(K.mm, F.pid) * 2 + 1)  -- anon_vma | PAGE_MAPPING_ANON (the fork tree's)
    page_set_field(apfn, 'index', vpn)
    page_flags_set(apfn, PG_UPTODATE + PG_DIRTY + PG_SWAPBACKED)
    if page_mapcount_add(apfn, 1) == 0 then rm_stat(anode, 'nr_anon_pages', 1) end
    RM.lru_add_anon(anode, apfn)   -- folio_add_lru_vma: the inactive anon list
    redis.call('HSET', K.pte, I(vpn), pte_encode({pfn = apfn, head = apfn, order = 0, node = anode,
      bits = PTE_WRITE + PTE_DIRTY + PTE_YOUNG + PTE_ANON}))
    redis.call('ZADD', K.pte_idx, I(vpn), I(vpn))
    redis.call('HINCRBY', K.pagemaps, I(anode) .. ':' .. I(apfn), 1)
    redis.call('HINCRBY', K.mm, 'rss_anon', 1)
    first_pfn, node, head, order = apfn, anode, apfn, 0
  end
  -- mm_account_fault: pgfault always and the task's maj_flt/min_flt on success. pgmajfault is counted
  -- where the kernel counts it, in filemap_fault on a page-cache miss (the page cache's lookup script).
  rm_stat(F.node, 'pgfault', 1)
  redis.call('HINCRBY', K.mm, F.major and 'maj_flt' or 'min_flt', 1)
  local out = {'ok', I(nr), I(first_vpn), I(first_pfn + (vpn - first_vpn)), I(pinned), I(around_mapped), I(node), I(head), I(order),
    pmd and '1' or '0'}
  for _, x in ipairs(rm_freed_flat()) do out[#out + 1] = x end
  return out
end
