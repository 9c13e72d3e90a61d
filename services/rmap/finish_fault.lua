-- finish_fault (mm/memory.c) for file pages and do_cow_fault's anonymous copy, in one step.
vm_spans(ARG.spans)
local pid = tonumber(ARG.pid)
local st = redis.call('HMGET', KEY.mm, 'state', 'killed_reason')
if not st[1] then return {'nopid'} end
if st[1] ~= 'running' then return {'killed', st[2] or ''} end
local vma = cjson.decode(ARG.vma)
local cur = redis.call('ZRANGEBYSCORE', KEY.vmas, I(vma.s), I(vma.s))
if cur[1] ~= ARG.vma then return {'retry', 'the VMA changed while the fault slept'} end
local addr, kind, write_shared = tonumber(ARG.address), ARG.kind, ARG.write_shared == '1'
local node, head, order, findex = tonumber(ARG.node), tonumber(ARG.head), tonumber(ARG.order), tonumber(ARG.folio_index)
local mapping, major = ARG.mapping, ARG.major == '1'
local limit, action = tonumber(ARG.limit), ARG.action
local vpn = math.floor(addr / 4096)
local index = vma.pg + (vpn - vma.s / 4096)
local old = ARG.old_pte

-- the folio must still be the page cache's folio at findex (filemap_fault re-checks folio->mapping)
vm_node(node)
local hp = kind ~= 'zero' and page_get(head) or {refcount = 1, w2 = 0, mapcount = -1}
if kind ~= 'zero' and (page_is_type(hp, PT_BUDDY) or hp.refcount <= 0) then return {'retry', 'the folio was freed'} end
if kind == 'file' and hp.w2 ~= MAPPING_SHARED then
  -- folio->mapping is cleared when truncation or invalidation removes the folio (a folio shared through
  -- PFN entries has no single mapping to compare: the page cache unmaps it before it unshares it)
  local mid = redis.call('HGET', node_key(node, 'intern'), 'n:' .. mapping)
  if hp.w2 == 0 or (not mid) or tonumber(mid) ~= hp.w2 or hp.w3 ~= findex then
    return {'retry', 'the folio left the page cache'}
  end
end
if kind == 'file' and rm_folio_order(head, hp) ~= order then return {'retry', 'the folio was split'} end
-- i_size re-check under the "folio lock" (filemap_fault step 7)
local isz = tonumber(redis.call('HGET', map_key(mapping, 'inode'), 'i_size') or ARG.i_size)
if index >= math.ceil(isz / 4096) then
  rm_stat(node, 'pgfault', 1)
  return {'sigbus', 'the file shrank below the faulting index'}
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

local nr, first_vpn, first_pfn = 1, vpn, head + (index - findex)
local around_mapped = 0
if kind == 'file' and tonumber(ARG.plan_nr) > 1 and old == ''
   and tonumber(ARG.plan_index) + tonumber(ARG.plan_nr) <= math.ceil(isz / 4096) then   -- the plan predates a truncate
  local pv, pn = tonumber(ARG.plan_vpn), tonumber(ARG.plan_nr)
  local none = true
  for i = 0, pn - 1 do
    if redis.call('HEXISTS', KEY.pte, I(pv + i)) == 1 then none = false; break end
  end
  if none then nr, first_vpn, first_pfn = pn, pv, head + (tonumber(ARG.plan_index) - findex) end
end

-- the mapcount-overflow policy (LSFMM 2018): per-process mappings of each page, and the 32-bit _mapcount
local over, overflow, pinned = nil, {}, 0
if kind == 'file' then
  for i = 0, nr - 1 do
    local pfn = first_pfn + i
    local c = tonumber(redis.call('HGET', KEY.pagemaps, I(node) .. ':' .. I(pfn)) or '0')
    if limit > 0 and action ~= 'none' and c + 1 > limit then
      over = string.format('pfn %d would be mapped %d times by pid %d (mapcount_limit %d)', pfn, c + 1, pid, limit)
    end
    if page_get_field(pfn, 'mapcount') + 1 > INT_MAX then
      overflow[i] = true
      over = over or string.format('_mapcount of pfn %d would pass INT_MAX', pfn)
    end
  end
  if over and action ~= 'leak' then
    local zapped = rm_teardown(pid)
    local reason = 'killed by the mapcount limit: ' .. over
    redis.call('HSET', KEY.mm, 'state', 'killed', 'killed_reason', reason)
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

if write_shared and kind == 'file' and not has(hp.flags, PG_DIRTY) then
  -- do_shared_fault dirtied the folio (do_page_mkwrite) before this step; a writeback cleaned it since:
  -- a writable PTE on a clean folio would let a store escape the next writeback
  return {'retry', 'writeback cleaned the folio before its PTE was made writable'}
end
if kind == 'cow' then
  -- the new anonymous page leaves the in-flight ledger as it is mapped (ARG.trace: the fault's trace)
  vm_node(tonumber(ARG.anon_node))
  local lost = ledger_check_take(tonumber(ARG.anon_pfn), ARG.trace)
  if lost then return {'lost', lost} end
  ledger_drop(tonumber(ARG.anon_pfn))
end
if old ~= '' then rm_zap(pid, vpn, old) end  -- do_wp_page's COW replaces the read-only PTE

if kind == 'zero' then
  -- a hole (zero entry): map the shared zero page read-only; it has no rmap and takes no reference
  redis.call('HSET', KEY.pte, I(vpn), pte_encode({pfn = 0, head = 0, order = 0, node = node, bits = PTE_YOUNG + PTE_ZERO}))
  redis.call('ZADD', KEY.pte_idx, I(vpn), I(vpn))
  first_pfn = 0
elseif kind == 'file' then
  vm_node(node)
  local bits = PTE_YOUNG
  if write_shared then bits = bit.bor(bits, PTE_WRITE + PTE_DIRTY) end
  for i = 0, nr - 1 do
    local pfn, v = first_pfn + i, first_vpn + i
    local b = bits
    if overflow[i] then b = bit.bor(b, PTE_NOMC)
    elseif page_mapcount_add(pfn, 1) == 0 then rm_stat(node, 'nr_mapped', 1) end
    redis.call('HSET', KEY.pte, I(v), pte_encode({pfn = pfn, head = head, order = order, node = node, bits = b}))
    redis.call('ZADD', KEY.pte_idx, I(v), I(v))
    redis.call('HINCRBY', KEY.pagemaps, I(node) .. ':' .. I(pfn), 1)
  end
  page_ref_add(head, nr)
  redis.call('HINCRBY', KEY.mm, 'rss_file', nr)
  around_mapped = rm_fault_around(vma, mapping, isz, limit, action, KEY, ARG.around, tonumber(ARG.around_first), tonumber(ARG.around_pages))
else
  -- do_cow_fault / wp_page_copy: copy the page-cache page into the new anonymous page and map that
  local anode, apfn = tonumber(ARG.anon_node), tonumber(ARG.anon_pfn)
  local src = redis.call('GETRANGE', node_key(node, 'mem:' .. I(head)), (first_pfn - head) * 4096, (first_pfn - head) * 4096 + 4095)
  if #src > 0 then redis.call('SET', node_key(anode, 'mem:' .. I(apfn)), src)
  else redis.call('DEL', node_key(anode, 'mem:' .. I(apfn))) end
  vm_node(anode)
  page_set_field(apfn, 'mapping', RM.anon_root(KEY.mm, pid) * 2 + 1)  -- anon_vma | PAGE_MAPPING_ANON (the fork tree's)
  page_set_field(apfn, 'index', vpn)
  page_flags_set(apfn, PG_UPTODATE + PG_DIRTY + PG_SWAPBACKED)
  if page_mapcount_add(apfn, 1) == 0 then rm_stat(anode, 'nr_anon_pages', 1) end
  redis.call('HSET', KEY.pte, I(vpn), pte_encode({pfn = apfn, head = apfn, order = 0, node = anode,
    bits = PTE_WRITE + PTE_DIRTY + PTE_YOUNG + PTE_ANON}))
  redis.call('ZADD', KEY.pte_idx, I(vpn), I(vpn))
  redis.call('HINCRBY', KEY.pagemaps, I(anode) .. ':' .. I(apfn), 1)
  redis.call('HINCRBY', KEY.mm, 'rss_anon', 1)
  first_pfn = apfn
end
-- mm_account_fault: pgfault always and the task's maj_flt/min_flt on success. pgmajfault is counted
-- where the kernel counts it, in filemap_fault on a page-cache miss (the page cache's lookup script).
rm_stat(node, 'pgfault', 1)
redis.call('HINCRBY', KEY.mm, major and 'maj_flt' or 'min_flt', 1)
local out = {'ok', I(nr), I(first_vpn), I(first_pfn + (vpn - first_vpn)), I(pinned), I(around_mapped)}
for _, x in ipairs(rm_freed_flat()) do out[#out + 1] = x end
return out
