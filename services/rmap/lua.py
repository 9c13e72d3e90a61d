"""The reverse-map service's Lua scripts: every multi-key change of services/rmap is ONE of these.

Each script is ``vmemmap.build_script(RMAP_LUA_LIB + body)``: the allocator's struct page library
(services/allocator/vmemmap.py: page_get, page_ref_add, page_mapcount_add, ...) followed by this
service's helpers, so PTEs, _mapcount, _refcount and the vmstat counters change in one atomic step.

Hash tags: a fault script touches ``{mm:PID}`` (PTEs, counters), ``{node:N}`` (struct page, vmstat, folio
bytes) and reads ``{m:MAPPING}`` (i_size); unmap_mapping_range walks ``{m:MAPPING}:i_mmap`` into every
mapping process's ``{mm:PID}``. That is accepted for the single Redis this project runs on; on a Redis
Cluster these scripts would need the tags co-located (documented in mmsim.runtime.keys). Keys other
than KEYS[] are built inside the scripts with the same builders as mmsim.runtime.keys.

PTE encoding (the value of ``{mm:PID}:pte`` field VPN): ``"PFN:HEAD:ORDER:NODE:BITS"`` with BITS from
PTE_* below. A PTE with PTE_NOMC was installed without raising _mapcount (the leak policy saturated it).

Lua numbers are doubles: every integer that goes into a key or a reply is formatted with ``I()``
(``%d``), never ``tostring`` (which prints 2**47 as 1.4e+14); VMA JSON is decoded here but never
re-encoded (cjson would round large addresses); Python builds the JSON.
"""

from __future__ import annotations

from mmsim.allocator import vmemmap

PTE_WRITE, PTE_ANON, PTE_DIRTY, PTE_YOUNG, PTE_NOMC, PTE_ZERO = 1, 2, 4, 8, 16, 32

RMAP_LUA_LIB = r"""
local PTE_WRITE, PTE_ANON, PTE_DIRTY, PTE_YOUNG, PTE_NOMC, PTE_ZERO = 1, 2, 4, 8, 16, 32
local VM_READ, VM_WRITE, VM_EXEC, VM_SHARED = 1, 2, 4, 8
local PG_UPTODATE, PG_DIRTY, PG_HEAD, PG_SWAPBACKED = 8, 16, 64, 131072
local RM_FREED = {}

local function I(n) return string.format('%d', n) end
local function mm_key(pid, s) return 'mmsim:{mm:' .. I(pid) .. '}:' .. s end
local function node_key(n, s) return 'mmsim:{node:' .. I(n) .. '}:' .. s end
local function map_key(m, s) return 'mmsim:{m:' .. m .. '}:' .. s end

local function rm_stat(n, field, delta)
  redis.call('HINCRBY', node_key(n, 'vmstat'), field, delta)
end

local function pte_decode(s)
  local pfn, head, order, node, bits = string.match(s, '^(%d+):(%d+):(%d+):(%d+):(%d+)$')
  return {pfn = tonumber(pfn), head = tonumber(head), order = tonumber(order), node = tonumber(node), bits = tonumber(bits)}
end

local function pte_encode(p)
  return I(p.pfn) .. ':' .. I(p.head) .. ':' .. I(p.order) .. ':' .. I(p.node) .. ':' .. I(p.bits)
end

local function has(bits, b) return bit.band(bits, b) ~= 0 end

-- folio_order of the folio headed by pfn (p = its struct page): a split since the caller looked changes it
local function rm_folio_order(pfn, p)
  if has(p.flags, PG_HEAD) then return page_get_field(pfn + 1, 'w1') end
  return 0
end

-- zap one PTE: folio_remove_rmap_pte + folio_put (mm/rmap.c, mm/memory.c zap_present_ptes)
local function rm_zap(pid, vpn, ptestr)
  local p = pte_decode(ptestr)
  redis.call('HDEL', mm_key(pid, 'pte'), I(vpn))
  redis.call('ZREM', mm_key(pid, 'pte_idx'), I(vpn))
  if has(p.bits, PTE_ZERO) then return 1 end  -- the shared zero page: no rmap, no reference
  local pk = I(p.node) .. ':' .. I(p.pfn)
  if redis.call('HINCRBY', mm_key(pid, 'pagemaps'), pk, -1) <= 0 then
    redis.call('HDEL', mm_key(pid, 'pagemaps'), pk)
  end
  vm_node(p.node)
  local anon = has(p.bits, PTE_ANON)
  if not has(p.bits, PTE_NOMC) then
    if page_mapcount_add(p.pfn, -1) == -1 then
      rm_stat(p.node, anon and 'nr_anon_pages' or 'nr_mapped', -1)
    end
  end
  if page_get_field(p.head, 'refcount') == 1 then
    -- the last reference: __free_pages drops it (the allocator's FreePages wants _refcount 1, no mapping;
    -- an anonymous page's ->mapping is cleared here as free_pages_prepare does)
    if anon then page_set_field(p.head, 'mapping', 0) end
    ledger_put(p.head, p.order, 'unmap-free', '')   -- owned by the ledger until the caller's FreePages
    table.insert(RM_FREED, {p.node, p.head, p.order})
  else
    page_ref_add(p.head, -1)
  end
  redis.call('HINCRBY', mm_key(pid, 'mm'), anon and 'rss_anon' or 'rss_file', -1)
  return 1
end

-- zap every PTE of pid in [lo_vpn, hi_vpn]; skip private COW copies unless even_cows
local function rm_zap_range(pid, lo, hi, even_cows)
  local n = 0
  local vpns = redis.call('ZRANGEBYSCORE', mm_key(pid, 'pte_idx'), I(lo), I(hi))
  for _, v in ipairs(vpns) do
    local s = redis.call('HGET', mm_key(pid, 'pte'), v)
    if s then
      if even_cows or not has(pte_decode(s).bits, PTE_ANON) then
        n = n + rm_zap(pid, tonumber(v), s)
      end
    end
  end
  return n
end

-- vma_unlink_file: the VMA of pid at start leaves mapping m's i_mmap; m is remembered for rm_evictable
local RM_UNMAPPED = {}
local function rm_i_mmap_del(m, pid, start)
  redis.call('ZREM', map_key(m, 'i_mmap'), I(pid) .. ':' .. I(start))
  RM_UNMAPPED[m] = true
end

-- the mappings this script left with an empty i_mmap while their nlink is 0 (unlinked: orphans whose
-- last mapping went), space separated: iput_final's eviction is due (FilesystemService.EvictInode). The
-- orphan list records them durably, so a crash before the caller asks for the eviction loses nothing.
local function rm_evictable()
  local out = {}
  for m in pairs(RM_UNMAPPED) do
    if redis.call('ZCARD', map_key(m, 'i_mmap')) == 0 and redis.call('HGET', map_key(m, 'inode'), 'nlink') == '0' then
      out[#out + 1] = m
    end
  end
  table.sort(out)
  return table.concat(out, ' ')
end

-- exit_mmap (mm/mmap.c): zap everything, unlink every VMA from its file's i_mmap
local function rm_teardown(pid)
  local zapped = rm_zap_range(pid, 0, 2 ^ 52, true)
  local vmas = redis.call('ZRANGE', mm_key(pid, 'vmas'), 0, -1)
  for _, m in ipairs(vmas) do
    local v = cjson.decode(m)
    rm_i_mmap_del(v.m, pid, v.s)
  end
  redis.call('DEL', mm_key(pid, 'vmas'), mm_key(pid, 'pte'), mm_key(pid, 'pte_idx'), mm_key(pid, 'pagemaps'))
  redis.call('HSET', mm_key(pid, 'mm'), 'map_count', 0, 'rss_file', 0, 'rss_anon', 0)
  return zapped, #vmas
end

-- do_fault_around -> filemap_map_pages (mm/memory.c, mm/filemap.c): map the pages of folios already in the
-- page cache in the window [lo, lo + n) of file indices, inside the VMA and below EOF, where no PTE is
-- present yet; a folio that left the page cache meanwhile is skipped. Opportunistic: it never kills and
-- never pins (pages at the mapcount limit or at INT_MAX are simply left for a real fault).
local function rm_fault_around(vma, mapping, isz, limit, action, K, spec, lo, n)
  if spec == '' or n == 0 then return 0 end
  local file_end = math.ceil(isz / 4096)
  local vs, ve = vma.s / 4096, vma.e / 4096
  local mapped = 0
  for an, ah, ao, ai in string.gmatch(spec, '(%d+):(%d+):(%d+):(%d+)') do
    an, ah, ao, ai = tonumber(an), tonumber(ah), tonumber(ao), tonumber(ai)
    vm_node(an)
    local hp = page_get(ah)
    local mid = redis.call('HGET', node_key(an, 'intern'), 'n:' .. mapping)
    local cached = not page_is_type(hp, PT_BUDDY) and hp.refcount > 0
      and (hp.w2 == MAPPING_SHARED or (mid and tonumber(mid) == hp.w2 and hp.w3 == ai)) and rm_folio_order(ah, hp) == ao
    local here = 0
    for i = 0, (cached and 2 ^ ao or 0) - 1 do
      local idx, pfn = ai + i, ah + i
      local v, pk = vs + (idx - vma.pg), I(an) .. ':' .. I(ah + i)
      if idx >= lo and idx < lo + n and idx < file_end and idx >= vma.pg and v < ve
         and redis.call('HEXISTS', K[3], I(v)) == 0
         and page_get_field(pfn, 'mapcount') < INT_MAX
         and (limit <= 0 or action == 'none' or tonumber(redis.call('HGET', K[5], pk) or '0') < limit) then
        if page_mapcount_add(pfn, 1) == 0 then rm_stat(an, 'nr_mapped', 1) end
        redis.call('HSET', K[3], I(v), pte_encode({pfn = pfn, head = ah, order = ao, node = an, bits = PTE_YOUNG}))
        redis.call('ZADD', K[4], I(v), I(v))
        redis.call('HINCRBY', K[5], pk, 1)
        here = here + 1
      end
    end
    if here > 0 then page_ref_add(ah, here) end
    mapped = mapped + here
  end
  if mapped > 0 then redis.call('HINCRBY', K[1], 'rss_file', mapped) end
  return mapped
end

local function rm_freed_flat()
  local out = {}
  for _, f in ipairs(RM_FREED) do
    out[#out + 1] = I(f[1]); out[#out + 1] = I(f[2]); out[#out + 1] = I(f[3])
  end
  return out
end
"""

# rmap_walk_file (mm/rmap.c) for one folio, for scripts outside this service that change a folio's PTEs in the
# same atomic step (the page cache's split and truncation: mm/huge_memory.c remap_page, mm/truncate.c
# unmap_mapping_folio). Needs RMAP_LUA_LIB (and the vmemmap library) before it.
RMAP_WALK_LUA_LIB = r"""
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
"""


def _script(body: str) -> vmemmap.Script:
    consts = f"local MAPPING_SHARED = {vmemmap.MAPPING_SHARED}\n"
    return vmemmap.Script(vmemmap.build_script(consts + RMAP_LUA_LIB + body))


# KEYS: cluster pids, cluster procs. ARGV: comm, mapcount_limit, mapcount_action, max_map_count, mmap_base
SPAWN = vmemmap.Script(r"""
local pid = redis.call('INCR', KEYS[1])
local mm = 'mmsim:{mm:' .. pid .. '}:mm'
redis.call('HSET', mm, 'comm', ARGV[1], 'state', 'running', 'killed_reason', '', 'min_flt', 0, 'maj_flt', 0,
  'rss_file', 0, 'rss_anon', 0, 'map_count', 0, 'max_map_count', ARGV[4], 'mapcount_limit', ARGV[2],
  'mapcount_action', ARGV[3], 'mmap_base', ARGV[5])
redis.call('SADD', KEYS[2], pid)
return pid
""")

# KEYS: mm, vmas, pte. ARGV: spans, address, write(0/1)
# -> {'nopid'} | {'killed', reason} | {'segv', why} | {'spurious', pte}
#    | {'wp', vma, pte, limit, action, folio state 'dirty'|'clean'|'shared' ('' unless a shared file PTE)}
#    | {'missing', vma, limit, action}
FAULT_BEGIN = _script(r"""
vm_spans(ARGV[1])
local st = redis.call('HMGET', KEYS[1], 'state', 'killed_reason', 'mapcount_limit', 'mapcount_action')
if not st[1] then return {'nopid'} end
if st[1] ~= 'running' then return {'killed', st[2] or ''} end
local addr = tonumber(ARGV[2])
local write = ARGV[3] == '1'
local r = redis.call('ZREVRANGEBYSCORE', KEYS[2], I(addr), '-inf', 'LIMIT', 0, 1)
local vma = r[1] and cjson.decode(r[1])
local why = nil
if not vma or vma.e <= addr then why = 'no VMA covers the address'
elseif write and not has(vma.f, VM_WRITE) then why = 'write to a VMA without VM_WRITE'
elseif bit.band(vma.f, VM_READ + VM_WRITE + VM_EXEC) == 0 then why = 'access to a PROT_NONE VMA' end
if why then
  rm_stat(0, 'pgfault', 1)
  return {'segv', why}
end
local vpn = math.floor(addr / 4096)
local s = redis.call('HGET', KEYS[3], I(vpn))
if s then
  local p = pte_decode(s)
  if not write or has(p.bits, PTE_WRITE) then
    -- spurious fault: the PTE is there; just mark it young (and dirty on a write)
    p.bits = bit.bor(p.bits, PTE_YOUNG)
    if write then p.bits = bit.bor(p.bits, PTE_DIRTY) end
    redis.call('HSET', KEYS[3], I(vpn), pte_encode(p))
    rm_stat(p.node, 'pgfault', 1)
    redis.call('HINCRBY', KEYS[1], 'min_flt', 1)
    return {'spurious', pte_encode(p)}
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
  return {'wp', r[1], s, st[3] or '0', st[4] or '', state}
end
return {'missing', r[1], st[3] or '0', st[4] or ''}
""")

# finish_fault (mm/memory.c) for file pages and do_cow_fault's anonymous copy, in one step.
# KEYS: mm, vmas, pte, pte_idx, pagemaps
# ARGV: 1 spans, 2 pid, 3 vma member, 4 address, 5 kind ('file'|'cow'), 6 write_shared (0/1),
#       7 node, 8 head, 9 order, 10 folio_index, 11 i_size, 12 mapping, 13 major (0/1), 14 limit, 15 action,
#       16 plan index, 17 plan vpn, 18 plan nr, 19 anon node, 20 anon pfn, 21 expected old pte ('' = none),
#       22 fault-around folios 'node:head:order:index;...', 23 window first index, 24 window pages,
#       25 the fault's trace id (owner of the in-flight COW page)
# -> {'ok', nr, first_vpn, pfn_at_address, pinned(0/1), around_mapped} | {'retry', why} | {'sigbus', why}
#    | {'nopage', the PTE another fault installed ('' = none)} | {'nopid'}
#    | {'killed', reason, mappings to evict (space separated), freed...} | {'lost', why} (the COW page was reclaimed)
FINISH_FAULT = _script(r"""
vm_spans(ARGV[1])
local pid = tonumber(ARGV[2])
local st = redis.call('HMGET', KEYS[1], 'state', 'killed_reason')
if not st[1] then return {'nopid'} end
if st[1] ~= 'running' then return {'killed', st[2] or ''} end
local vma = cjson.decode(ARGV[3])
local cur = redis.call('ZRANGEBYSCORE', KEYS[2], I(vma.s), I(vma.s))
if cur[1] ~= ARGV[3] then return {'retry', 'the VMA changed while the fault slept'} end
local addr, kind, write_shared = tonumber(ARGV[4]), ARGV[5], ARGV[6] == '1'
local node, head, order, findex = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local mapping, major = ARGV[12], ARGV[13] == '1'
local limit, action = tonumber(ARGV[14]), ARGV[15]
local vpn = math.floor(addr / 4096)
local index = vma.pg + (vpn - vma.s / 4096)
local old = ARGV[21]

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
local isz = tonumber(redis.call('HGET', map_key(mapping, 'inode'), 'i_size') or ARGV[11])
if index >= math.ceil(isz / 4096) then
  rm_stat(node, 'pgfault', 1)
  return {'sigbus', 'the file shrank below the faulting index'}
end
local now = redis.call('HGET', KEYS[3], I(vpn))
if not now and old ~= '' then
  -- the PTE this fault was to replace went meanwhile (the zero page's PTE is zapped when the page cache
  -- replaces the zero entry with a folio): nothing is mapped, so the access refaults, as the arch handler
  -- would after vmf_pte_changed
  return {'retry', 'the PTE this fault was replacing was zapped meanwhile'}
end
if (now or '') ~= old then
  -- another fault mapped it first (vmf_pte_changed): nothing to do but say what is mapped now
  rm_stat(node, 'pgfault', 1)
  redis.call('HINCRBY', KEYS[1], 'min_flt', 1)
  return {'nopage', now or ''}
end

local nr, first_vpn, first_pfn = 1, vpn, head + (index - findex)
local around_mapped = 0
if kind == 'file' and tonumber(ARGV[18]) > 1 and old == ''
   and tonumber(ARGV[16]) + tonumber(ARGV[18]) <= math.ceil(isz / 4096) then   -- the plan predates a truncate
  local pv, pn = tonumber(ARGV[17]), tonumber(ARGV[18])
  local none = true
  for i = 0, pn - 1 do
    if redis.call('HEXISTS', KEYS[3], I(pv + i)) == 1 then none = false; break end
  end
  if none then nr, first_vpn, first_pfn = pn, pv, head + (tonumber(ARGV[16]) - findex) end
end

-- the mapcount-overflow policy (LSFMM 2018): per-process mappings of each page, and the 32-bit _mapcount
local over, overflow, pinned = nil, {}, 0
if kind == 'file' then
  for i = 0, nr - 1 do
    local pfn = first_pfn + i
    local c = tonumber(redis.call('HGET', KEYS[5], I(node) .. ':' .. I(pfn)) or '0')
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
    redis.call('HSET', KEYS[1], 'state', 'killed', 'killed_reason', reason)
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
  -- the new anonymous page leaves the in-flight ledger as it is mapped (ARGV[25]: the fault's trace)
  vm_node(tonumber(ARGV[19]))
  local lost = ledger_check_take(tonumber(ARGV[20]), ARGV[25])
  if lost then return {'lost', lost} end
  ledger_drop(tonumber(ARGV[20]))
end
if old ~= '' then rm_zap(pid, vpn, old) end  -- do_wp_page's COW replaces the read-only PTE

if kind == 'zero' then
  -- a hole (zero entry): map the shared zero page read-only; it has no rmap and takes no reference
  redis.call('HSET', KEYS[3], I(vpn), pte_encode({pfn = 0, head = 0, order = 0, node = node, bits = PTE_YOUNG + PTE_ZERO}))
  redis.call('ZADD', KEYS[4], I(vpn), I(vpn))
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
    redis.call('HSET', KEYS[3], I(v), pte_encode({pfn = pfn, head = head, order = order, node = node, bits = b}))
    redis.call('ZADD', KEYS[4], I(v), I(v))
    redis.call('HINCRBY', KEYS[5], I(node) .. ':' .. I(pfn), 1)
  end
  page_ref_add(head, nr)
  redis.call('HINCRBY', KEYS[1], 'rss_file', nr)
  around_mapped = rm_fault_around(vma, mapping, isz, limit, action, KEYS, ARGV[22], tonumber(ARGV[23]), tonumber(ARGV[24]))
else
  -- do_cow_fault / wp_page_copy: copy the page-cache page into the new anonymous page and map that
  local anode, apfn = tonumber(ARGV[19]), tonumber(ARGV[20])
  local src = redis.call('GETRANGE', node_key(node, 'mem:' .. I(head)), (first_pfn - head) * 4096, (first_pfn - head) * 4096 + 4095)
  if #src > 0 then redis.call('SET', node_key(anode, 'mem:' .. I(apfn)), src)
  else redis.call('DEL', node_key(anode, 'mem:' .. I(apfn))) end
  vm_node(anode)
  page_set_field(apfn, 'mapping', pid * 2 + 1)  -- anon_vma | PAGE_MAPPING_ANON (the anon_vma is the mm's)
  page_set_field(apfn, 'index', vpn)
  page_flags_set(apfn, PG_UPTODATE + PG_DIRTY + PG_SWAPBACKED)
  if page_mapcount_add(apfn, 1) == 0 then rm_stat(anode, 'nr_anon_pages', 1) end
  redis.call('HSET', KEYS[3], I(vpn), pte_encode({pfn = apfn, head = apfn, order = 0, node = anode,
    bits = PTE_WRITE + PTE_DIRTY + PTE_YOUNG + PTE_ANON}))
  redis.call('ZADD', KEYS[4], I(vpn), I(vpn))
  redis.call('HINCRBY', KEYS[5], I(anode) .. ':' .. I(apfn), 1)
  redis.call('HINCRBY', KEYS[1], 'rss_anon', 1)
  first_pfn = apfn
end
-- mm_account_fault: pgfault always and the task's maj_flt/min_flt on success. pgmajfault is counted
-- where the kernel counts it, in filemap_fault on a page-cache miss (the page cache's lookup script).
rm_stat(node, 'pgfault', 1)
redis.call('HINCRBY', KEYS[1], major and 'maj_flt' or 'min_flt', 1)
local out = {'ok', I(nr), I(first_vpn), I(first_pfn + (vpn - first_vpn)), I(pinned), I(around_mapped)}
for _, x in ipairs(rm_freed_flat()) do out[#out + 1] = x end
return out
""")

# wp_page_shared (mm/memory.c): a write to a read-only PTE of a shared mapping makes it writable+dirty.
# KEYS: mm, pte. ARGV: spans, vpn, expected pte
# -> {'ok', pte} | {'retry'} | {'shared'} (the folio is shared through PFN entries) | {'clean'} (the folio is
#    not dirty: dirty it, then call again) | {'nopid'} | {'killed', reason}
WP_SHARED = _script(r"""
vm_spans(ARGV[1])
local st = redis.call('HMGET', KEYS[1], 'state', 'killed_reason')
if not st[1] then return {'nopid'} end
if st[1] ~= 'running' then return {'killed', st[2] or ''} end
local s = redis.call('HGET', KEYS[2], ARGV[2])
if s ~= ARGV[3] then return {'retry'} end
local p = pte_decode(s)
vm_node(p.node)
if page_get_field(p.head, 'mapping') == MAPPING_SHARED and page_get_field(p.head, 'index') > 1 then
  return {'shared'}   -- PFN entries: the page cache copies the folio for this file first
end
-- the folio lock of wp_page_shared: the PTE becomes writable only while the folio is dirty (the caller
-- dirtied it, as do_page_mkwrite does, and no writeback cleaned it since); else the caller dirties it first
if not has(page_get_field(p.head, 'flags'), PG_DIRTY) then return {'clean'} end
p.bits = bit.bor(p.bits, PTE_WRITE + PTE_DIRTY + PTE_YOUNG)
redis.call('HSET', KEYS[2], ARGV[2], pte_encode(p))
rm_stat(p.node, 'pgfault', 1)
redis.call('HINCRBY', KEYS[1], 'min_flt', 1)
return {'ok', pte_encode(p)}
""")

# A failed fault after the page cache answered (SIGBUS/OOM): mm_account_fault still counts pgfault.
# KEYS: -. ARGV: node
ACCOUNT_FAILED = vmemmap.Script(r"""
redis.call('HINCRBY', 'mmsim:{node:' .. ARGV[1] .. '}:vmstat', 'pgfault', 1)
return 1
""")

# KEYS: mm, vmas, i_mmap, inode. ARGV: vma json, start, end, pgoff, pid
# -> {'ok'} | {'overlap'} | {'enomem', count} | {'unlinked'} | {'nopid'} | {'killed', reason}
MMAP_INSERT = vmemmap.Script(r"""
local st = redis.call('HMGET', KEYS[1], 'state', 'killed_reason', 'map_count', 'max_map_count')
if not st[1] then return {'nopid'} end
if st[1] ~= 'running' then return {'killed', st[2] or ''} end
local prev = redis.call('ZREVRANGEBYSCORE', KEYS[2], '(' .. ARGV[3], '-inf', 'LIMIT', 0, 1)
if prev[1] and cjson.decode(prev[1]).e > tonumber(ARGV[2]) then return {'overlap'} end
if tonumber(st[3]) >= tonumber(st[4]) then return {'enomem', st[3]} end
-- an unlinked inode takes no new mappings: once its i_mmap is empty it stays empty (evict is due)
if redis.call('HGET', KEYS[4], 'nlink') == '0' then return {'unlinked'} end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5] .. ':' .. ARGV[2])
redis.call('HINCRBY', KEYS[1], 'map_count', 1)
return {'ok'}
""")

# munmap (mm/vma.c do_vmi_munmap): zap, unlink, keep the pieces outside the range.
# KEYS: mm, vmas. ARGV: spans, pid, start, end, JSON [{"old": member, "new": [members]}]
# -> {'ok', zapped, mappings to evict (space separated), freed...} | {'retry'} | {'enomem'} | {'nopid'}
#    | {'killed', reason}
MUNMAP = _script(r"""
vm_spans(ARGV[1])
local pid, start, stop = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local st = redis.call('HMGET', KEYS[1], 'state', 'killed_reason', 'map_count', 'max_map_count')
if not st[1] then return {'nopid'} end
if st[1] ~= 'running' then return {'killed', st[2] or ''} end
local plan = cjson.decode(ARGV[5])
local now = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[4])
local live = 0
for _, m in ipairs(now) do if cjson.decode(m).e > start then live = live + 1 end end
if live ~= #plan then return {'retry'} end
local delta = 0
for _, item in ipairs(plan) do
  local v = cjson.decode(item.old)
  local cur = redis.call('ZRANGEBYSCORE', KEYS[2], I(v.s), I(v.s))
  if cur[1] ~= item.old then return {'retry'} end
  delta = delta + #item.new - 1
end
if delta > 0 and tonumber(st[3]) + delta > tonumber(st[4]) then return {'enomem'} end
local zapped = 0
for _, item in ipairs(plan) do
  local v = cjson.decode(item.old)
  local lo, hi = math.max(v.s, start) / 4096, math.min(v.e, stop) / 4096 - 1
  zapped = zapped + rm_zap_range(pid, lo, hi, true)
  redis.call('ZREM', KEYS[2], item.old)
  rm_i_mmap_del(v.m, pid, v.s)
  for _, n in ipairs(item.new) do
    local w = cjson.decode(n)
    redis.call('ZADD', KEYS[2], I(w.s), n)
    redis.call('ZADD', map_key(w.m, 'i_mmap'), I(w.pg), I(pid) .. ':' .. I(w.s))
  end
end
redis.call('HINCRBY', KEYS[1], 'map_count', delta)
local out = {'ok', I(zapped), rm_evictable()}
for _, x in ipairs(rm_freed_flat()) do out[#out + 1] = x end
return out
""")

# exit_mmap + release of the pid. KEYS: mm, procs. ARGV: spans, pid
# -> {'ok', zapped, vmas, mappings to evict (space separated), freed...} | {'nopid'}
EXIT = _script(r"""
vm_spans(ARGV[1])
local pid = tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 0 then return {'nopid'} end
local zapped, nv = rm_teardown(pid)
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
local out = {'ok', I(zapped), I(nv), rm_evictable()}
for _, x in ipairs(rm_freed_flat()) do out[#out + 1] = x end
return out
""")

# unmap_mapping_range (mm/memory.c): walk i_mmap for VMAs overlapping [first, last] (file pages).
# KEYS: i_mmap. ARGV: spans, first index, last index (-1 = to EOF), even_cows (0/1)
# -> {zapped, vmas, freed...}
UNMAP_MAPPING_RANGE = _script(r"""
vm_spans(ARGV[1])
local first, last, even = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1'
if last < 0 then last = 2 ^ 52 end
local zapped, nv = 0, 0
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', I(last))) do
  local pid, s = string.match(member, '^(%d+):(%d+)$')
  local r = redis.call('ZRANGEBYSCORE', mm_key(pid, 'vmas'), s, s)
  if r[1] then
    local v = cjson.decode(r[1])
    local n = (v.e - v.s) / 4096
    local lo, hi = math.max(first, v.pg), math.min(last, v.pg + n - 1)
    if lo <= hi then
      nv = nv + 1
      local base = v.s / 4096 - v.pg
      zapped = zapped + rm_zap_range(tonumber(pid), base + lo, base + hi, even)
    end
  end
end
local out = {I(zapped), I(nv)}
for _, x in ipairs(rm_freed_flat()) do out[#out + 1] = x end
return out
""")

# access_process_vm read side: bytes through the PTEs, stopping at the first page without one.
# KEYS: mm, pte. ARGV: address, length -> {'nopid'} | {'killed', r} | {'ok', data, missing_vpn or ''}
READ_MEM = vmemmap.Script(r"""
local function I(n) return string.format('%d', n) end
local st = redis.call('HMGET', KEYS[1], 'state', 'killed_reason')
if not st[1] then return {'nopid'} end
if st[1] ~= 'running' then return {'killed', st[2] or ''} end
local addr, stop = tonumber(ARGV[1]), tonumber(ARGV[1]) + tonumber(ARGV[2])
local out = {}
while addr < stop do
  local vpn = math.floor(addr / 4096)
  local off = addr - vpn * 4096
  local n = math.min(4096 - off, stop - addr)
  local s = redis.call('HGET', KEYS[2], I(vpn))
  if not s then return {'ok', table.concat(out), I(vpn)} end
  local pfn, head, order, node, bits = string.match(s, '^(%d+):(%d+):(%d+):(%d+):(%d+)$')
  local src = (tonumber(pfn) - tonumber(head)) * 4096 + off
  local b = ''
  if bit.band(tonumber(bits), 32) == 0 then
    b = redis.call('GETRANGE', 'mmsim:{node:' .. node .. '}:mem:' .. head, src, src + n - 1)
  end
  if #b < n then b = b .. string.rep('\0', n - #b) end
  out[#out + 1] = b
  addr = addr + n
end
return {'ok', table.concat(out), ''}
""")

# access_process_vm write side: store only when every PTE of the range is present and writable.
# KEYS: mm, pte. ARGV: address, data -> {'nopid'} | {'killed', r} | {'fault', vpn} | {'ok', written}
WRITE_MEM = vmemmap.Script(r"""
local function I(n) return string.format('%d', n) end
local st = redis.call('HMGET', KEYS[1], 'state', 'killed_reason')
if not st[1] then return {'nopid'} end
if st[1] ~= 'running' then return {'killed', st[2] or ''} end
local start, data = tonumber(ARGV[1]), ARGV[2]
local stop = start + #data
local vpn = math.floor(start / 4096)
local ptes = {}
while vpn * 4096 < stop do
  local s = redis.call('HGET', KEYS[2], I(vpn))
  if not s then return {'fault', I(vpn)} end
  local pfn, head, order, node, bits = string.match(s, '^(%d+):(%d+):(%d+):(%d+):(%d+)$')
  if bit.band(tonumber(bits), 1) == 0 then return {'fault', I(vpn)} end
  ptes[#ptes + 1] = {vpn, tonumber(pfn), head, node, tonumber(bits), s}
  vpn = vpn + 1
end
for _, p in ipairs(ptes) do
  local lo, hi = math.max(start, p[1] * 4096), math.min(stop, (p[1] + 1) * 4096)
  local dst = (p[2] - tonumber(p[3])) * 4096 + (lo - p[1] * 4096)
  redis.call('SETRANGE', 'mmsim:{node:' .. p[4] .. '}:mem:' .. p[3], dst, string.sub(data, lo - start + 1, hi - start))
  if bit.band(p[5], 4) == 0 then
    redis.call('HSET', KEYS[2], I(p[1]), (string.gsub(p[6], '%d+$', I(bit.bor(p[5], 12)))))
  end
end
return {'ok', I(#data)}
""")

# folio_mapcount and friends. ARGV: spans, node, pfn
# -> {folio_mapcount, raw _mapcount, refcount, pinned, head, order, pid1, n1, pid2, n2, ...}
FOLIO_MAPCOUNT = _script(r"""
vm_spans(ARGV[1])
local node, pfn = tonumber(ARGV[2]), tonumber(ARGV[3])
vm_node(node)
local p = page_get(pfn)
if page_is_type(p, PT_BUDDY) then mm_fail('FailedPrecondition', 'pfn ' .. I(pfn) .. ' is free (PageBuddy)') end
local head = page_compound_head(pfn)
local hp = head == pfn and p or page_get(head)
local order = 0
if has(hp.flags, PG_HEAD) then order = page_get_field(head + 1, 'w1')
else
  -- not a compound page (no __GFP_COMP): the allocator's owner record names the block and its order
  for o = 0, 10 do
    local h = pfn - pfn % (2 ^ o)
    local own = redis.call('HGET', node_key(node, 'owner'), I(h))
    if own and tonumber(string.match(own, '^(%d+)')) >= o then
      head, order = h, tonumber(string.match(own, '^(%d+)'))
      hp = page_get(head)
      break
    end
  end
end
local total = 0
for i = 0, 2 ^ order - 1 do
  local mc = page_get_field(head + i, 'mapcount')
  if mc >= 0 then total = total + mc + 1 end
end
local pinned = redis.call('SISMEMBER', node_key(node, 'rmap_pinned'), I(head))
local out = {I(total), I(p.mapcount), I(hp.refcount), I(pinned), I(head), I(order)}
local pk = I(node) .. ':' .. I(pfn)
if has(hp.flags, PG_SWAPBACKED) and hp.w2 % 2 == 1 then
  local pid = (hp.w2 - 1) / 2
  local c = redis.call('HGET', mm_key(pid, 'pagemaps'), pk)
  if c then out[#out + 1] = I(pid); out[#out + 1] = c end
elseif hp.w2 ~= 0 then
  -- rmap_walk_file: the VMAs of i_mmap covering the page's index, then each process's count
  local name = mapping_name(hp.w2)
  local index = hp.w3 + (pfn - head)
  local seen = {}
  if name then
    for _, member in ipairs(redis.call('ZRANGEBYSCORE', map_key(name, 'i_mmap'), '-inf', I(index))) do
      local pid = string.match(member, '^(%d+):')
      if not seen[pid] then
        seen[pid] = true
        local c = redis.call('HGET', mm_key(pid, 'pagemaps'), pk)
        if c then out[#out + 1] = pid; out[#out + 1] = c end
      end
    end
  end
end
return out
""")

# folio_mkclean (mm/rmap.c) for a batch of one file's folios: rmap_walk_file over i_mmap, and in every
# VM_SHARED VMA page_mkclean_one on each PTE that maps a page of one of the folios: write-protect it and
# clear its dirty bit. Private VMAs are skipped (invalid_mkclean_vma): their file PTEs are never writable.
# KEYS: i_mmap. ARGV: spans, then per folio: node, head pfn, order, file index of its first page
# -> {vmas walked, then per folio: PTEs cleaned, 1 when one of them was dirty else 0}
FOLIO_MKCLEAN = _script(r"""
vm_spans(ARGV[1])
local folios, hi_index = {}, 0
for i = 2, #ARGV, 4 do
  local f = {node = tonumber(ARGV[i]), head = tonumber(ARGV[i + 1]), order = tonumber(ARGV[i + 2]),
             index = tonumber(ARGV[i + 3]), cleaned = 0, dirty = 0}
  f.nr = 2 ^ f.order
  hi_index = math.max(hi_index, f.index + f.nr - 1)
  folios[#folios + 1] = f
end
local nv = 0
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', I(hi_index))) do
  local pid, s = string.match(member, '^(%d+):(%d+)$')
  local r = redis.call('ZRANGEBYSCORE', mm_key(pid, 'vmas'), s, s)
  local v = r[1] and cjson.decode(r[1])
  if v and has(v.f, VM_SHARED) then
    nv = nv + 1
    local base, last = v.s / 4096 - v.pg, v.pg + (v.e - v.s) / 4096 - 1
    for _, f in ipairs(folios) do
      local lo, hi = math.max(f.index, v.pg), math.min(f.index + f.nr - 1, last)
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
local out = {I(nv)}
for _, f in ipairs(folios) do out[#out + 1] = I(f.cleaned); out[#out + 1] = I(f.dirty) end
return out
""")
