-- handle_mm_fault's first step (mm/memory.c): find_vma + access_error (SIGSEGV), then handle_pte_fault's
-- choice: a present PTE is a spurious fault (young/dirty set here), a write to a read-only PTE goes to
-- do_wp_page ('wp', or 'reused' when an anonymous page mapped once is made writable here), an empty PTE to
-- do_fault. A read fault there starts as do_read_fault does, with
-- do_fault_around -> filemap_map_pages: the page cache's XArray read in place (the kernel reads i_pages
-- under RCU, without calling ->fault); when it holds an uptodate folio at the faulting index, the fault is
-- finished here in the same step (VM_FAULT_NOPAGE: 'ok', no hop). Otherwise 'missing': ->fault
-- (PageCache.Fault) then finish_fault.lua, with the fault-around window computed here.
local function main()
  vm_spans(ARG.spans)
  local st = redis.call('HMGET', KEY.mm, 'state', 'killed_reason', 'mapcount_limit', 'mapcount_action')
  if not st[1] then return {'nopid'} end
  if st[1] ~= 'running' then return {'killed', st[2] or ''} end
  local addr = tonumber(ARG.address)
  local write = ARG.write == '1'
  local r = redis.call('ZREVRANGEBYSCORE', KEY.vmas, I(addr), '-inf', 'LIMIT', 0, 1)
  local vma = r[1] and cjson.decode(r[1])
  local why = nil
  if not vma or vma.e <= addr then why = 'no VMA covers the address'
  elseif write and not has(vma.f, VM_WRITE) then why = 'write to a VMA without VM_WRITE'
  elseif bit.band(vma.f, VM_READ + VM_WRITE + VM_EXEC) == 0 then why = 'access to a PROT_NONE VMA' end
  if why then
    rm_stat(0, 'pgfault', 1)
    return {'segv', why}
  end
  local limit, action = RM.policy(vma, st[3], st[4])
  local vpn = math.floor(addr / 4096)
  local pmd = RM.pmd_get(ARG.pid, math.floor(vpn / 512))
  if pmd then
    local p = pte_decode(pmd)
    if not write or has(p.bits, PTE_WRITE) then
      -- huge_pmd_set_accessed: the PMD is there; mark it young (and dirty on a write)
      p.bits = bit.bor(p.bits, PTE_YOUNG + (write and PTE_DIRTY or 0))
      redis.call('HSET', mm_key(ARG.pid, 'pmd'), I(math.floor(vpn / 512)), pte_encode(p))
      rm_stat(p.node, 'pgfault', 1)
      redis.call('HINCRBY', KEY.mm, 'min_flt', 1)
      p.pfn = p.head + vpn % 512
      return {'spurious', pte_encode(p)}
    end
    -- wp_huge_pmd: a regular file has no ->huge_fault, so the PMD is split (for a file VMA: zapped) and the
    -- write goes on at the PTE level (VM_FAULT_FALLBACK): do_shared_fault maps the folio again, writable;
    -- a private mapping copies the page
    RM.zap_pmd(tonumber(ARG.pid), math.floor(vpn / 512), pmd, true)
  end
  local s = redis.call('HGET', KEY.pte, I(vpn))
  if s then
    local p = pte_decode(s)
    if not write or has(p.bits, PTE_WRITE) then
      -- spurious fault: the PTE is there; just mark it young (and dirty on a write)
      p.bits = bit.bor(p.bits, PTE_YOUNG)
      if write then p.bits = bit.bor(p.bits, PTE_DIRTY) end
      redis.call('HSET', KEY.pte, I(vpn), pte_encode(p))
      rm_stat(p.node, 'pgfault', 1)
      redis.call('HINCRBY', KEY.mm, 'min_flt', 1)
      return {'spurious', pte_encode(p)}
    end
    -- do_wp_page on a private anonymous page (a COW page after fork): wp_can_reuse_anon_folio reuses it in
    -- place when this PTE is its only mapping and reference (wp_page_reuse); otherwise wp_page_copy copies it
    if has(p.bits, PTE_ANON) and not has(vma.f, VM_SHARED) then
      vm_node(p.node)
      local pg = page_get(p.pfn)
      if pg.mapcount == 0 and pg.refcount == 1 then
        p.bits = bit.bor(p.bits, PTE_WRITE + PTE_DIRTY + PTE_YOUNG)
        redis.call('HSET', KEY.pte, I(vpn), pte_encode(p))
        rm_stat(p.node, 'pgfault', 1)
        redis.call('HINCRBY', KEY.mm, 'min_flt', 1)
        return {'reused', pte_encode(p)}
      end
    end
    -- the folio's state for wp_page_shared: 'dirty' needs no do_page_mkwrite round trip, 'shared' (PFN
    -- entries) is copied by the page cache first, 'clean' is dirtied first
    local state = ''
    if has(vma.f, VM_SHARED) and not has(p.bits, PTE_ZERO + PTE_ANON) then
      vm_node(p.node)
      local hp = page_get(p.head)
      if hp.w2 == MAPPING_SHARED and hp.w3 > 1 then state = 'shared'
      elseif has(hp.flags, PG_DIRTY) then state = 'dirty'
      else state = 'clean' end
    end
    return {'wp', r[1], s, I(limit), action, state}
  end
  local index = vma.pg + (vpn - vma.s / 4096)
  local lo, n = 0, 0
  if not write then lo, n = RM.around_window(vma, vpn, tonumber(ARG.fault_around_bytes)) end
  if n > 0 then   -- should_fault_around
    local f, hp, ino, xa = RM.uptodate_folio(vma.m, index, ARG.chunk_shift)
    if f then
      return RM.finish(KEY, {pid = tonumber(ARG.pid), vma = vma, vpn = vpn, index = index, kind = 'file',
        write_shared = false, node = f.node, head = f.pfn, order = f.order, findex = f.index, isz = ino.i_size,
        major = false, limit = limit, action = action, old = '', hp = hp, around = RM.cached_around(xa, ino, lo, n),
        around_first = lo, around_pages = n})
    end
  end
  return {'missing', r[1], I(limit), action, I(lo), I(n)}
end
return main()
