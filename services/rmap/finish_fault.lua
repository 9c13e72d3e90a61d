-- finish_fault (mm/memory.c) after ->fault (PageCache.Fault) slept: the checks of what may have changed
-- meanwhile (the VMA, the folio's place in the page cache, i_size, the PTE), then RM.finish (finish.lua).
local function main()
  vm_spans(ARG.spans)
  local st = redis.call('HMGET', KEY.mm, 'state', 'killed_reason')
  if not st[1] then return {'nopid'} end
  if st[1] ~= 'running' then return {'killed', st[2] or ''} end
  local vma = cjson.decode(ARG.vma)
  local cur = redis.call('ZRANGEBYSCORE', KEY.vmas, I(vma.s), I(vma.s))
  if cur[1] ~= ARG.vma then return {'retry', 'the VMA changed while the fault slept'} end
  local kind = ARG.kind
  local node, head, order, findex = tonumber(ARG.node), tonumber(ARG.head), tonumber(ARG.order), tonumber(ARG.folio_index)
  local vpn = math.floor(tonumber(ARG.address) / 4096)
  local index = vma.pg + (vpn - vma.s / 4096)
  local old = ARG.old_pte

  -- the folio must still be the page cache's folio at findex (filemap_fault re-checks folio->mapping)
  vm_node(node)
  local hp = kind ~= 'zero' and page_get(head) or {refcount = 1, w2 = 0, mapcount = -1, flags = 0}
  if kind ~= 'zero' and (page_is_type(hp, PT_BUDDY) or hp.refcount <= 0) then return {'retry', 'the folio was freed'} end
  if kind == 'file' and hp.w2 ~= MAPPING_SHARED then
    -- folio->mapping is cleared when truncation or invalidation removes the folio (a folio shared through
    -- PFN entries has no single mapping to compare: the page cache unmaps it before it unshares it)
    local mid = redis.call('HGET', node_key(node, 'intern'), 'n:' .. vma.m)
    if hp.w2 == 0 or (not mid) or tonumber(mid) ~= hp.w2 or hp.w3 ~= findex then
      return {'retry', 'the folio left the page cache'}
    end
  end
  if kind == 'file' and rm_folio_order(head, hp) ~= order then return {'retry', 'the folio was split'} end
  -- i_size re-check under the "folio lock" (filemap_fault step 7)
  local isz = tonumber(redis.call('HGET', map_key(vma.m, 'inode'), 'i_size') or ARG.i_size)
  if index >= math.ceil(isz / 4096) then
    rm_stat(node, 'pgfault', 1)
    return {'sigbus', 'the file shrank below the faulting index'}
  end
  local pmd = RM.pmd_get(ARG.pid, math.floor(vpn / 512))
  if pmd then
    -- another fault mapped the folio by a PMD first (do_set_pmd's !pmd_none): VM_FAULT_NOPAGE
    rm_stat(node, 'pgfault', 1)
    redis.call('HINCRBY', KEY.mm, 'min_flt', 1)
    local p = pte_decode(pmd)
    p.pfn = p.head + vpn % 512
    return {'nopage', pte_encode(p)}
  end
  local now = redis.call('HGET', KEY.pte, I(vpn))
  if not now and old ~= '' then
    -- the PTE this fault was to replace went meanwhile (the zero page's PTE is zapped when the page cache
    -- replaces the zero entry with a folio): nothing is mapped, so the access refaults, as the arch handler
    -- would after vmf_pte_changed
    return {'retry', 'the PTE this fault was replacing was zapped meanwhile'}
  end
  if (now or '') ~= old then
    -- another fault mapped it first (vmf_pte_changed): nothing to do but say what is mapped now
    rm_stat(node, 'pgfault', 1)
    redis.call('HINCRBY', KEY.mm, 'min_flt', 1)
    return {'nopage', now or ''}
  end
  local around = {}
  for an, ah, ao, ai in string.gmatch(ARG.around, '(%d+):(%d+):(%d+):(%d+)') do
    around[#around + 1] = {tonumber(an), tonumber(ah), tonumber(ao), tonumber(ai)}
  end
  return RM.finish(KEY, {pid = tonumber(ARG.pid), vma = vma, vpn = vpn, index = index, kind = kind,
    write_shared = ARG.write_shared == '1', node = node, head = head, order = order, findex = findex, isz = isz,
    major = ARG.major == '1', limit = tonumber(ARG.limit), action = ARG.action, old = old, hp = hp,
    anon_node = tonumber(ARG.anon_node), anon_pfn = tonumber(ARG.anon_pfn), trace = ARG.trace,
    around = around, around_first = tonumber(ARG.around_first), around_pages = tonumber(ARG.around_pages)})
end
return main()
