-- folio_mkclean (mm/rmap.c) for a batch of one file's folios: rmap_walk_file over i_mmap, and in every
-- VM_SHARED VMA page_mkclean_one on each PTE that maps a page of one of the folios: write-protect it and
-- clear its dirty bit. Private VMAs are skipped (invalid_mkclean_vma): their file PTEs are never writable.
vm_spans(ARG.spans)
local folios, hi_index = {}, 0
local F = ARG.folios   -- node, head pfn, order, file index of its first page; per folio
for i = 1, #F, 4 do
  local f = {node = tonumber(F[i]), head = tonumber(F[i + 1]), order = tonumber(F[i + 2]),
             index = tonumber(F[i + 3]), cleaned = 0, dirty = 0}
  f.nr = 2 ^ f.order
  hi_index = math.max(hi_index, f.index + f.nr - 1)
  folios[#folios + 1] = f
end
local nv = 0
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEY.i_mmap, '-inf', I(hi_index))) do
  local pid, s = string.match(member, '^(%d+):(%d+)$')
  local r = redis.call('ZRANGEBYSCORE', mm_key(pid, 'vmas'), s, s)
  local v = r[1] and cjson.decode(r[1])
  if v and has(v.f, VM_SHARED) then
    nv = nv + 1
    local base, last = v.s / 4096 - v.pg, v.pg + (v.e - v.s) / 4096 - 1
    for _, f in ipairs(folios) do
      local lo, hi = math.max(f.index, v.pg), math.min(f.index + f.nr - 1, last)
      local pmd = f.nr == RM.PMD_NR and lo == f.index and hi == f.index + f.nr - 1
        and (base + lo) % RM.PMD_NR == 0 and RM.pmd_get(pid, (base + lo) / RM.PMD_NR)
      local hpmd = pmd and pte_decode(pmd)
      if hpmd and hpmd.node == f.node and hpmd.head == f.head and has(hpmd.bits, PTE_WRITE + PTE_DIRTY) then
        -- page_mkclean_one on a PMD: pmd_wrprotect + pmd_mkclean
        if has(hpmd.bits, PTE_DIRTY) then f.dirty = 1 end
        hpmd.bits = bit.band(hpmd.bits, bit.bnot(PTE_WRITE + PTE_DIRTY))
        redis.call('HSET', mm_key(pid, 'pmd'), I((base + lo) / RM.PMD_NR), pte_encode(hpmd))
        f.cleaned = f.cleaned + 1
      end
      if lo <= hi then
        for _, vpn in ipairs(redis.call('ZRANGEBYSCORE', mm_key(pid, 'pte_idx'), I(base + lo), I(base + hi))) do
          local ptestr = redis.call('HGET', mm_key(pid, 'pte'), vpn)
          local p = ptestr and pte_decode(ptestr)
          if p and p.node == f.node and p.pfn >= f.head and p.pfn < f.head + f.nr
             and not has(p.bits, PTE_ANON + PTE_ZERO) and has(p.bits, PTE_WRITE + PTE_DIRTY) then
            if has(p.bits, PTE_DIRTY) then f.dirty = 1 end
            p.bits = bit.band(p.bits, bit.bnot(PTE_WRITE + PTE_DIRTY))
            redis.call('HSET', mm_key(pid, 'pte'), vpn, pte_encode(p))
            f.cleaned = f.cleaned + 1
          end
        end
      end
    end
  end
end
local out = {'ok', I(nv)}
for _, f in ipairs(folios) do out[#out + 1] = I(f.cleaned); out[#out + 1] = I(f.dirty) end
return out
