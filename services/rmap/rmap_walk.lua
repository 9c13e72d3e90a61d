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

-- unmap_mapping_folio (mm/memory.c): zap every PTE that maps a page of the folio; returns how many
local function rm_unmap_folio(mapping, index, nr, node, head)
  local ptes = rm_folio_ptes(mapping, index, nr, node, head)
  for _, t in ipairs(ptes) do rm_zap(t.pid, t.vpn, t.s) end
  return #ptes
end
