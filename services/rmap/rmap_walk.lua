-- rmap_walk_file (mm/rmap.c) for one folio, for scripts outside this service that change a folio's PTEs in the
-- same atomic step (the page cache's split and truncation: mm/huge_memory.c remap_page, mm/truncate.c
-- unmap_mapping_folio). Needs RMAP_LUA_LIB (and the vmemmap library) before it.
-- the PTEs of every VMA in the file's i_mmap that map a page of the folio (node, head) at file pages
-- [index, index + nr): file PTEs only (a private mapping's anonymous copies are other folios, the zero page
-- none). Returns {pid, vpn, p = decoded PTE, s = the PTE string} each.
local function rm_folio_ptes(mapping, index, nr, node, head)
  local out = {}
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', map_key(mapping, 'i_mmap'), '-inf', I(index + nr - 1))) do
    local pid, s = string.match(member, '^(%d+):(%d+)$')
    local r = redis.call('ZRANGEBYSCORE', mm_key(pid, 'vmas'), s, s)
    if r[1] then
      local v = cjson.decode(r[1])
      local lo, hi = math.max(index, v.pg), math.min(index + nr - 1, v.pg + (v.e - v.s) / 4096 - 1)
      local base = v.s / 4096 - v.pg
      for _, vpn in ipairs(lo <= hi and redis.call('ZRANGEBYSCORE', mm_key(pid, 'pte_idx'), I(base + lo), I(base + hi)) or {}) do
        local str = redis.call('HGET', mm_key(pid, 'pte'), vpn)
        local p = str and pte_decode(str)
        if p and p.head == head and p.node == node and not has(p.bits, PTE_ANON + PTE_ZERO) then
          out[#out + 1] = {pid = tonumber(pid), vpn = tonumber(vpn), p = p, s = str}
        end
      end
    end
  end
  return out
end

-- the PMDs of every VMA in the file's i_mmap that map the PMD-order folio (node, head) at file index `index`
-- (page_vma_mapped_walk's PMD case). Returns {pid, idx = the PMD index, p = decoded, s = its string} each.
function RM.folio_pmds(mapping, index, nr, node, head)
  local out = {}
  if nr ~= RM.PMD_NR then return out end
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', map_key(mapping, 'i_mmap'), '-inf', I(index))) do
    local pid, s = string.match(member, '^(%d+):(%d+)$')
    local r = redis.call('ZRANGEBYSCORE', mm_key(pid, 'vmas'), s, s)
    local v = r[1] and cjson.decode(r[1])
    local vpn = v and v.s / 4096 + (index - v.pg)
    if v and vpn % RM.PMD_NR == 0 and vpn >= v.s / 4096 and vpn + RM.PMD_NR <= v.e / 4096 then
      local str = RM.pmd_get(pid, vpn / RM.PMD_NR)
      local p = str and pte_decode(str)
      if p and p.head == head and p.node == node then
        out[#out + 1] = {pid = tonumber(pid), idx = vpn / RM.PMD_NR, p = p, s = str}
      end
    end
  end
  return out
end

-- split_huge_pmd_address for every PMD mapping the folio (try_to_unmap / try_to_migrate with
-- TTU_SPLIT_HUGE_PMD, unmap_folio before a split): for file VMAs the PMDs are zapped. Returns how many.
function RM.split_folio_pmds(mapping, index, nr, node, head)
  local pmds = RM.folio_pmds(mapping, index, nr, node, head)
  for _, t in ipairs(pmds) do RM.zap_pmd(t.pid, t.idx, t.s, true) end
  return #pmds
end

-- unmap_mapping_folio (mm/memory.c): zap every PTE and PMD that maps a page of the folio (zap_huge_pmd: the
-- PMD covers the folio's whole range, nothing is split); split: try_to_unmap's TTU_SPLIT_HUGE_PMD instead
-- (reclaim), which counts thp_split_pmd. Returns the entries zapped (a PMD counts one).
local function rm_unmap_folio(mapping, index, nr, node, head, split)
  local n = 0
  for _, t in ipairs(RM.folio_pmds(mapping, index, nr, node, head)) do
    RM.zap_pmd(t.pid, t.idx, t.s, split)
    n = n + 1
  end
  local ptes = rm_folio_ptes(mapping, index, nr, node, head)
  for _, t in ipairs(ptes) do rm_zap(t.pid, t.vpn, t.s) end
  return n + #ptes
end
