-- fork's dup_mm (kernel/fork.c dup_mmap, mm/memory.c copy_page_range / copy_present_pte) in one step: a new
-- pid with a copy of the parent's VMAs (each linked into its file's i_mmap) and MapMany runs, sharing the
-- parent's anon_vma (one per fork tree, named by its root: anon pages' ->mapping = root * 2 + 1).
-- Page tables are copied only where vma_needs_copy says so: a private VMA with anonymous pages (an anon_vma);
-- the others are refaulted by the child. A copied anonymous PTE is write-protected in BOTH processes
-- (copy-on-write: the next write fault copies, or reuses a page mapped once); each copied PTE raises the
-- page's _mapcount and its folio's _refcount by one. A run's PTEs are copied with their count.
vm_spans(ARG.spans)
local pid = tonumber(ARG.pid)
local st = redis.call('HMGET', KEY.mm, 'state', 'killed_reason', 'nr_tasks', 'anon_root')
if not st[1] then return {'nopid'} end
if st[1] ~= 'running' then return {'killed', st[2] or ''} end
if tonumber(st[3] or '1') > 1 then return {'bulk', st[3]} end
local root = tonumber(st[4] or ARG.pid)

-- the PTEs to copy: every PTE of each private VMA that has an anonymous page (vma_needs_copy)
local vmas = redis.call('ZRANGE', KEY.vmas, 0, -1)
local copy, refs = {}, {}
for _, m in ipairs(vmas) do
  local v = cjson.decode(m)
  if not has(v.f, VM_SHARED) then
    local list, anon = {}, false
    for _, vpn in ipairs(redis.call('ZRANGEBYSCORE', KEY.pte_idx, I(v.s / 4096), I(v.e / 4096 - 1))) do
      local s = redis.call('HGET', KEY.pte, vpn)
      if s then
        local p = pte_decode(s)
        list[#list + 1] = {vpn = vpn, p = p}
        if has(p.bits, PTE_ANON) then anon = true end
      end
    end
    if anon then
      for _, t in ipairs(list) do
        copy[#copy + 1] = t
        if not has(t.p.bits, PTE_ZERO) then
          local hk = I(t.p.node) .. ':' .. I(t.p.head)
          refs[hk] = (refs[hk] or 0) + 1
        end
      end
    end
  end
end
-- no folio's _refcount may pass INT_MAX (try_get_page's rule): refuse before anything changes
for hk, n in pairs(refs) do
  local node, head = string.match(hk, '^(%d+):(%d+)$')
  vm_node(tonumber(node))
  if page_get_field(tonumber(head), 'refcount') + n > INT_MAX then
    return {'overflow', string.format('_refcount of pfn %s would pass INT_MAX', head)}
  end
end

local child = redis.call('INCR', KEY.pids)
local function ck(s) return mm_key(child, s) end
local h = redis.call('HGETALL', KEY.mm)
redis.call('HSET', ck('mm'), unpack(h))
redis.call('HSET', ck('mm'), 'state', 'running', 'killed_reason', '', 'min_flt', 0, 'maj_flt', 0, 'rss_file', 0,
  'rss_anon', 0, 'pins', 0, 'nr_tasks', 1, 'anon_root', root)
redis.call('HSET', KEY.mm, 'anon_root', root)
redis.call('SADD', mm_key(root, 'anon_vma'), ARG.pid, I(child))

for _, m in ipairs(vmas) do
  local v = cjson.decode(m)
  redis.call('ZADD', ck('vmas'), I(v.s), m)
  redis.call('ZADD', map_key(v.m, 'i_mmap'), I(v.pg), I(child) .. ':' .. I(v.s))
end

local rss_file, rss_anon, cow = 0, 0, 0
for _, t in ipairs(copy) do
  local p = t.p
  local cb = bit.band(p.bits, bit.bnot(PTE_WRITE + PTE_YOUNG))   -- pte_wrprotect + pte_mkold in the child
  if not has(p.bits, PTE_ZERO) then
    vm_node(p.node)
    if has(p.bits, PTE_ANON) then
      if has(p.bits, PTE_WRITE) then
        redis.call('HSET', KEY.pte, t.vpn, pte_encode({pfn = p.pfn, head = p.head, order = p.order, node = p.node,
          bits = bit.band(p.bits, bit.bnot(PTE_WRITE))}))
      end
      cow = cow + 1
      rss_anon = rss_anon + 1
    else
      rss_file = rss_file + 1
    end
    if not has(p.bits, PTE_NOMC) then
      if page_get_field(p.pfn, 'mapcount') >= INT_MAX then cb = bit.bor(cb, PTE_NOMC)   -- saturated: not counted
      else page_mapcount_add(p.pfn, 1) end
    end
    page_ref_add(p.head, 1)
    redis.call('HINCRBY', ck('pagemaps'), I(p.node) .. ':' .. I(p.pfn), 1)
  end
  redis.call('HSET', ck('pte'), t.vpn, pte_encode({pfn = p.pfn, head = p.head, order = p.order, node = p.node, bits = cb}))
  redis.call('ZADD', ck('pte_idx'), t.vpn, t.vpn)
end

-- MapMany runs: the same one-page VMAs and PTEs; their counters rise by the run's counted PTEs, saturating
-- at the counter's maximum (the rest installed, not counted, as the leak policy does)
local runs = RM.runs(pid)
for _, run in ipairs(runs) do
  local r, c = run.r, 0
  if run.c > 0 and RM.folio_is(r.node, r.head, r.m, r.index) then
    local MAX = 2 ^ (r.b - 1) - 1
    local mc, rc = page_get_field(r.pfn, 'mapcount'), page_get_field(r.head, 'refcount')
    c = math.max(0, math.min(run.c, MAX - mc, MAX - rc))
    if c < run.c then rm_stat(r.node, 'mmsim_mapcount_saturated', run.c - c) end
    page_set_field(r.pfn, 'mapcount', mc + c)
    page_set_field(r.head, 'refcount', rc + c)
  end
  redis.call('HSET', ck('runs'), run.field, redis.call('HGET', KEY.runs, run.field), run.field .. ':c', I(c))
  redis.call('ZADD', map_key(r.m, 'i_mmap'), I(r.pg), I(child) .. ':' .. I(r.s))
  redis.call('HINCRBY', ck('pagemaps'), I(r.node) .. ':' .. I(r.pfn), r.n)
  rss_file = rss_file + r.n
end
redis.call('HSET', ck('mm'), 'rss_file', rss_file, 'rss_anon', rss_anon)
redis.call('SADD', KEY.procs, I(child))
return {'ok', I(child), I(#vmas + #runs), I(#copy), I(cow)}
