-- The reverse map's library (after the vmemmap library): PTE encoding, zap (folio_remove_rmap_pte + folio_put),
-- exit_mmap's teardown, fault-around (filemap_map_pages). Key builders match mmsim.runtime.keys.
local PTE_WRITE, PTE_ANON, PTE_DIRTY, PTE_YOUNG, PTE_NOMC, PTE_ZERO, PTE_PROTNONE, PTE_PMD = 1, 2, 4, 8, 16, 32, 64, 128
local VM_READ, VM_WRITE, VM_EXEC, VM_SHARED = 1, 2, 4, 8
local PG_UPTODATE, PG_DIRTY, PG_HEAD, PG_SWAPBACKED = 8, 16, 64, 131072
local RM_FREED = {}
local RM = {PMD_ORDER = 9, PMD_NR = 512, PG_REFERENCED = 4}   -- the MapMany/pin/PMD helpers, in one table: composed
-- scripts stay under Lua's 200 locals

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

-- The anonymous LRU lists of a node (struct lruvec's LRU_INACTIVE_ANON / LRU_ACTIVE_ANON, memcg-free), beside
-- the page cache's file lists (filemap.lua LRU): sorted sets {node:N}:lru:inactive_anon / :lru:active_anon of
-- page pfns scored by the node's LRU clock ({node:N}:lruvec 'seq', shared with the file lists), counted by
-- vmstat nr_inactive_anon / nr_active_anon. Anonymous folios are order 0 here (COW copies).
RM.ANON_LISTS = {'inactive_anon', 'active_anon'}
RM.PG = {referenced = 4, lru = 32, active = 256, workingset = 512}   -- (fields: composed scripts near 200 locals)

-- folio_add_lru_vma -> folio_add_lru -> lruvec_add_folio for a new anonymous page: the head of the inactive
-- anon list (since 5.9 new anonymous pages start inactive, as file pages do), PG_lru set, PG_active clear.
-- mmsim has no per-CPU folio batches: the page is on the list when the script that mapped it ends.
-- vm_node(node) must be current.
function RM.lru_add_anon(node, pfn)
  local seq = redis.call('HINCRBY', node_key(node, 'lruvec'), 'seq', 1)
  redis.call('ZADD', node_key(node, 'lru:inactive_anon'), seq, I(pfn))
  rm_stat(node, 'nr_inactive_anon', 1)
  page_flags_clear(pfn, RM.PG.active)
  page_flags_set(pfn, RM.PG.lru)
end

-- lruvec_del_folio + __folio_clear_lru_flags when an anonymous page's last reference goes (__folio_put ->
-- __page_cache_release): off whichever anon list holds it, PG_lru / PG_active and the LRU state bits
-- cleared (free_pages_prepare would refuse PG_lru and PG_active). vm_node(node) must be current.
function RM.lru_del_anon(node, pfn)
  for _, list in ipairs(RM.ANON_LISTS) do
    if redis.call('ZREM', node_key(node, 'lru:' .. list), I(pfn)) == 1 then
      rm_stat(node, 'nr_' .. list, -1)
      break
    end
  end
  page_flags_clear(pfn, RM.PG.lru + RM.PG.active + RM.PG.referenced + RM.PG.workingset + PG_SWAPBACKED)
end

-- the folio's references drop by n (folio_put_refs): the last one is handed to the caller's FreePages
-- (__free_pages wants _refcount 1 and no mapping; an anonymous page leaves its LRU list and its ->mapping is
-- cleared here, as __folio_put and free_pages_prepare do). vm_node(node) must be current.
function RM.put_refs(node, head, order, n)
  local rc = page_get_field(head, 'refcount')
  if rc == n then
    if page_get_field(head, 'mapping') % 2 == 1 then   -- PAGE_MAPPING_ANON
      RM.lru_del_anon(node, head)
      page_set_field(head, 'mapping', 0)
    end
    page_set_field(head, 'refcount', 1)
    ledger_put(head, order, 'unmap-free', '')   -- owned by the ledger until the caller's FreePages
    table.insert(RM_FREED, {node, head, order})
  else
    page_ref_add(head, -n)
  end
end

-- a PTE whose page no longer holds a count for it (freed, or _mapcount already -1: a wrapped counter made
-- it look unmapped): print_bad_pte's "BUG: Bad page map" (mm/memory.c); the PTE goes, no counter moves
function RM.bad_map(node, pfn, head, nomc)
  local p = page_get(pfn)
  local hp = head == pfn and p or page_get(head)
  if page_is_type(p, PT_BUDDY) or page_is_type(hp, PT_BUDDY) or hp.refcount <= 0 or (not nomc and p.mapcount < 0) then
    rm_stat(node, 'mmsim_bad_page_map', 1)
    return true
  end
  return false
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
  redis.call('HINCRBY', mm_key(pid, 'mm'), anon and 'rss_anon' or 'rss_file', -1)
  if RM.bad_map(p.node, p.pfn, p.head, has(p.bits, PTE_NOMC)) then return 1 end
  if not has(p.bits, PTE_NOMC) then
    if page_mapcount_add(p.pfn, -1) == -1 and (anon or RM.counts_mapped(p.head, p.order)) then
      rm_stat(p.node, anon and 'nr_anon_pages' or 'nr_mapped', -1)
    end
  end
  RM.put_refs(p.node, p.head, p.order, 1)
  return 1
end

-- PMD mappings of file THPs: {mm:PID}:pmd, field = the PMD's index (virtual address >> 21), value a PTE string
-- (pte_encode) naming the folio's head (pfn = head, order 9). folio->_entire_mapcount is the first tail page's
-- compound_mapcount word (-1: no PMD maps the folio).
function RM.pmd_get(pid, idx) return redis.call('HGET', mm_key(pid, 'pmd'), I(idx)) end

-- a page's first PTE mapping (or its last PTE unmapping) moves NR_FILE_MAPPED only while no PMD maps its folio:
-- __folio_add_rmap / __folio_remove_rmap count a page once, whether mapped by PTEs, a PMD or both
function RM.counts_mapped(head, order)
  return order ~= RM.PMD_ORDER or page_get_field(head + 1, 'w2') < 0
end

-- the folio's pages mapped by PTEs (_nr_pages_mapped & FOLIO_PAGES_MAPPED)
function RM.pages_mapped(head)
  local n = 0
  for i = 0, RM.PMD_NR - 1 do
    if page_get_field(head + i, 'mapcount') >= 0 then n = n + 1 end
  end
  return n
end

-- folio_add_file_rmap_pmd / folio_remove_rmap_pmd (mm/rmap.c, delta +1 / -1): _entire_mapcount moves; the first
-- PMD mapping counts the pages no PTE mapped yet in NR_FILE_MAPPED and the folio in NR_FILE_PMDMAPPED (kept
-- in THPs, as vmstat prints it), the last one uncounts them. vm_node(node) must be current.
function RM.rmap_pmd(node, head, delta)
  local e = page_get_field(head + 1, 'w2') + delta
  page_set_field(head + 1, 'w2', e)
  if (delta > 0 and e == 0) or (delta < 0 and e == -1) then
    rm_stat(node, 'nr_mapped', delta * (RM.PMD_NR - RM.pages_mapped(head)))
    rm_stat(node, 'nr_file_pmdmapped', delta)
  end
end

-- zap_huge_pmd (mm/huge_memory.c) of pid's PMD at index idx (its string s): the PMD goes, folio_remove_rmap_pmd,
-- folio_put, MM_FILEPAGES - RM.PMD_NR. split: __split_huge_pmd_locked of a file VMA, which zaps the PMD as
-- well (the pages refault through PTEs), counts thp_split_pmd and hands the young bit to PG_referenced.
-- Returns the pages unmapped.
function RM.zap_pmd(pid, idx, s, split)
  local p = pte_decode(s)
  redis.call('HDEL', mm_key(pid, 'pmd'), I(idx))
  redis.call('HINCRBY', mm_key(pid, 'mm'), 'rss_file', -RM.PMD_NR)
  vm_node(p.node)
  if split then rm_stat(p.node, 'thp_split_pmd', 1) end
  if RM.bad_map(p.node, p.head, p.head, true) then return RM.PMD_NR end
  if split and has(p.bits, PTE_YOUNG) then page_flags_set(p.head, RM.PG_REFERENCED) end
  RM.rmap_pmd(p.node, p.head, -1)
  RM.put_refs(p.node, p.head, RM.PMD_ORDER, 1, false)
  return RM.PMD_NR
end

-- zap_pmd_range's PMD part for pid's pages [lo, hi]: a PMD inside the range is zapped (zap_huge_pmd), one the
-- range cuts is split first (__split_huge_pmd: for a file VMA, zapped too). The PMDs of a process are few: all
-- are read (HGETALL). Returns the pages unmapped.
function RM.zap_pmds(pid, lo, hi)
  local n, h = 0, redis.call('HGETALL', mm_key(pid, 'pmd'))
  for i = 1, #h, 2 do
    local idx = tonumber(h[i])
    local first, last = idx * RM.PMD_NR, idx * RM.PMD_NR + RM.PMD_NR - 1
    if first <= hi and last >= lo then
      n = n + RM.zap_pmd(pid, idx, h[i + 1], first < lo or last > hi)
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

-- a counter of `bits` bits holding x: two's complement wrap-around (atomic_t arithmetic, narrowed)
function RM.wrap(x, bits)
  local h = 2 ^ (bits - 1)
  return (x + h) % (2 * h) - h
end

-- the folio (node, head) is still mapping m's folio at file index `index` (filemap_fault's folio->mapping check)
function RM.folio_is(node, head, m, index)
  vm_node(node)
  local hp = page_get(head)
  if page_is_type(hp, PT_BUDDY) then return false end   -- a wrapped _refcount may be anything else
  if hp.w2 == MAPPING_SHARED then return true end
  local mid = redis.call('HGET', node_key(node, 'intern'), 'n:' .. m)
  return mid and tonumber(mid) == hp.w2 and hp.w3 == index
end

-- the runs of MapMany (counted one-page VMAs of one file page, the same in each of the mm's nr_tasks
-- processes): {field = vm_start, r = the run (JSON from Python), c = PTEs that raised the counters}
function RM.runs(pid)
  local out, h = {}, redis.call('HGETALL', mm_key(pid, 'runs'))
  for i = 1, #h, 2 do
    if not string.find(h[i], ':') then
      out[#out + 1] = {field = h[i], r = cjson.decode(h[i + 1]), c = tonumber(redis.call('HGET', mm_key(pid, 'runs'), h[i] .. ':c'))}
    end
  end
  return out
end

-- zap_page_range of c counted PTEs of a run r: they drop their _mapcount and references with the same wrap-around arithmetic
-- that raised them (page_remove_rmap checks nothing); a page that left the page cache meanwhile (a wrapped
-- count let it be freed) is a bad page map and is not touched. Returns the PTEs zapped.
function RM.run_uncount(r, c)
  if c > 0 then
    if RM.folio_is(r.node, r.head, r.m, r.index) then
      local mc = RM.wrap(page_get_field(r.pfn, 'mapcount') - c, r.b)
      page_set_field(r.pfn, 'mapcount', mc)
      if mc == -1 then rm_stat(r.node, 'nr_mapped', -1) end
      local rc = RM.wrap(page_get_field(r.head, 'refcount') - c, r.b)
      if rc < 0 then
        rm_stat(r.node, 'mmsim_bad_page_map', 1)
      else
        RM.put_refs(r.node, r.head, r.order, page_get_field(r.head, 'refcount') - rc)
      end
    else
      rm_stat(r.node, 'mmsim_bad_page_map', 1)
    end
  end
end

function RM.zap_run(pid, run, tasks)
  rm_i_mmap_del(run.r.m, pid, run.r.s)
  RM.run_uncount(run.r, run.c)
  return run.r.n * tasks
end

-- munmap of part of a run (item = {old = its JSON, k = VMAs per process unmapped, new = JSON of the 0..2 runs
-- left}): the k VMAs' PTEs of every process drop their counts (the uncounted, saturated ones go first to the
-- pieces left, as many as they hold), the rest of the count is shared out to the pieces. Returns PTEs zapped.
function RM.split_run(pid, item, tasks)
  local r = cjson.decode(item.old)
  local c = tonumber(redis.call('HGET', mm_key(pid, 'runs'), I(r.s) .. ':c') or '0')
  local removed = math.min(c, item.k * tasks)
  RM.run_uncount(r, removed)
  redis.call('HDEL', mm_key(pid, 'runs'), I(r.s), I(r.s) .. ':c')
  rm_i_mmap_del(r.m, pid, r.s)
  local left = c - removed
  for _, j in ipairs(item.new) do
    local w = cjson.decode(j)
    local cw = math.min(left, w.n * tasks)
    left = left - cw
    redis.call('HSET', mm_key(pid, 'runs'), I(w.s), j, I(w.s) .. ':c', I(cw))
    redis.call('ZADD', map_key(w.m, 'i_mmap'), I(w.pg), I(pid) .. ':' .. I(w.s))
  end
  local pk = I(r.node) .. ':' .. I(r.pfn)
  if redis.call('HINCRBY', mm_key(pid, 'pagemaps'), pk, -item.k) <= 0 then redis.call('HDEL', mm_key(pid, 'pagemaps'), pk) end
  redis.call('HINCRBY', mm_key(pid, 'mm'), 'rss_file', -item.k)
  return item.k * tasks
end

-- the processes of the anon_vma rooted at pid `root` (fork shares one per fork tree; ->mapping = root * 2 + 1):
-- rmap_walk_anon visits each of them (anon_vma_interval_tree_foreach); a process that never forked is its own
function RM.anon_vma_pids(root)
  local pids = redis.call('SMEMBERS', mm_key(root, 'anon_vma'))
  if #pids == 0 then pids = {I(root)} end
  table.sort(pids, function(a, b) return tonumber(a) < tonumber(b) end)
  return pids
end

-- rmap_walk_anon of the anonymous page (node, pfn) whose ->mapping is `mapping` (root * 2 + 1) and ->index the
-- virtual page vpn: the PTE of each process of the anon_vma at vpn that maps it, as {pid, vpn, p (decoded)}
function RM.anon_ptes(node, pfn, mapping, vpn)
  local out = {}
  for _, pid in ipairs(RM.anon_vma_pids((mapping - 1) / 2)) do
    local s = redis.call('HGET', mm_key(pid, 'pte'), I(vpn))
    local d = s and pte_decode(s)
    if d and d.pfn == pfn and d.node == node and has(d.bits, PTE_ANON) then out[#out + 1] = {pid = pid, vpn = vpn, p = d} end
  end
  return out
end

-- the anon_vma root of the process whose mm hash is `mmkey` (pid when it never forked)
function RM.anon_root(mmkey, pid)
  return tonumber(redis.call('HGET', mmkey, 'anon_root') or pid)
end

-- put_page of every get_user_pages reference the process still holds
function RM.unpin_all(pid)
  local h = redis.call('HGETALL', mm_key(pid, 'pins'))
  for i = 1, #h, 2 do
    local node, head, order = string.match(h[i], '^(%d+):(%d+):(%d+)$')
    node, head = tonumber(node), tonumber(head)
    vm_node(node)
    if not RM.bad_map(node, head, head, true) then
      RM.put_refs(node, head, tonumber(order), tonumber(h[i + 1]))
    end
  end
end

-- zap every PTE of pid in [lo_vpn, hi_vpn]; skip private COW copies unless even_cows
local function rm_zap_range(pid, lo, hi, even_cows)
  local n = RM.zap_pmds(pid, lo, hi)
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

-- exit_mmap (mm/mmap.c): zap everything, unlink every VMA from its file's i_mmap
local function rm_teardown(pid)
  local zapped = rm_zap_range(pid, 0, 2 ^ 52, true)
  local tasks = tonumber(redis.call('HGET', mm_key(pid, 'mm'), 'nr_tasks') or '1')
  for _, run in ipairs(RM.runs(pid)) do zapped = zapped + RM.zap_run(pid, run, tasks) end
  RM.unpin_all(pid)
  local vmas = redis.call('ZRANGE', mm_key(pid, 'vmas'), 0, -1)
  for _, m in ipairs(vmas) do
    local v = cjson.decode(m)
    rm_i_mmap_del(v.m, pid, v.s)
  end
  redis.call('DEL', mm_key(pid, 'vmas'), mm_key(pid, 'pte'), mm_key(pid, 'pte_idx'), mm_key(pid, 'pmd'), mm_key(pid, 'pagemaps'),
    mm_key(pid, 'runs'), mm_key(pid, 'pins'))
  redis.call('HSET', mm_key(pid, 'mm'), 'map_count', 0, 'rss_file', 0, 'rss_anon', 0, 'pins', 0)
  return zapped, #vmas
end

-- do_fault_around -> filemap_map_pages (mm/memory.c, mm/filemap.c): map the pages of folios already in the
-- page cache in the window [lo, lo + n) of file indices, inside the VMA and below EOF, where no PTE is
-- present yet; a folio that left the page cache meanwhile is skipped. Opportunistic: it never kills and
-- never pins (pages at the mapcount limit or at INT_MAX are simply left for a real fault).
-- K: the script's KEY table (mm, pte, pte_idx, pagemaps of the faulting process); around: the window's
-- folios, {node, head pfn, order, first index} each
local function rm_fault_around(vma, mapping, isz, limit, action, K, around, lo, n)
  if #around == 0 or n == 0 then return 0 end
  local file_end = math.ceil(isz / 4096)
  local vs, ve = vma.s / 4096, vma.e / 4096
  local mapped = 0
  for _, a in ipairs(around) do
    local an, ah, ao, ai = a[1], a[2], a[3], a[4]
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
         and redis.call('HEXISTS', K.pte, I(v)) == 0
         and page_get_field(pfn, 'mapcount') < INT_MAX
         and (limit <= 0 or action == 'none' or tonumber(redis.call('HGET', K.pagemaps, pk) or '0') < limit) then
        if page_mapcount_add(pfn, 1) == 0 and RM.counts_mapped(ah, ao) then rm_stat(an, 'nr_mapped', 1) end
        redis.call('HSET', K.pte, I(v), pte_encode({pfn = pfn, head = ah, order = ao, node = an, bits = PTE_YOUNG}))
        redis.call('ZADD', K.pte_idx, I(v), I(v))
        redis.call('HINCRBY', K.pagemaps, pk, 1)
        here = here + 1
      end
    end
    if here > 0 then page_ref_add(ah, here) end
    mapped = mapped + here
  end
  if mapped > 0 then redis.call('HINCRBY', K.mm, 'rss_file', mapped) end
  return mapped
end

local function rm_freed_flat()
  local out = {}
  for _, f in ipairs(RM_FREED) do
    out[#out + 1] = I(f[1]); out[#out + 1] = I(f[2]); out[#out + 1] = I(f[3])
  end
  return out
end

-- the struct pages of a page and of its folio's head, on node (set current); a free page is refused
function RM.page_and_head(node, pfn)
  vm_node(node)
  local p = page_get(pfn)
  if page_is_type(p, PT_BUDDY) then mm_fail('FailedPrecondition', 'pfn ' .. I(pfn) .. ' is free (PageBuddy)') end
  local head = page_compound_head(pfn)
  return p, head, head == pfn and p or page_get(head)
end
