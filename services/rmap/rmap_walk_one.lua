-- rmap_walk (mm/rmap.c) of one page: rmap_walk_anon for an anonymous page (its anon_vma is the fork tree's:
-- ->mapping = root pid * 2 + 1, ->index = the virtual page; every process of it is visited), rmap_walk_file for a page-cache page
-- (vma_interval_tree_foreach over i_mmap for the page's index, vma_address, then the PTE must map the page).
-- A MapMany run is one entry standing for its count of one-page VMAs in each of its nr_tasks processes.
vm_spans(ARG.spans)
local node, pfn = tonumber(ARG.node), tonumber(ARG.pfn)
local p, head, hp = RM.page_and_head(node, pfn)
local out = {'ok'}
local function add(pid, addr, kind, n, tasks)
  out[#out + 1] = I(pid); out[#out + 1] = I(addr); out[#out + 1] = kind; out[#out + 1] = I(n); out[#out + 1] = I(tasks)
end
local function tasks_of(pid) return tonumber(redis.call('HGET', mm_key(pid, 'mm'), 'nr_tasks') or '1') end
if hp.w2 % 2 == 1 then
  for _, t in ipairs(RM.anon_ptes(node, pfn, hp.w2, page_get_field(pfn, 'index'))) do
    add(t.pid, t.vpn * 4096, 'anon', 1, tasks_of(t.pid))
  end
  return out
end
local name = hp.w2 ~= 0 and hp.w2 ~= MAPPING_SHARED and mapping_name(hp.w2)
if not name then return out end
local index = hp.w3 + (pfn - head)
for _, member in ipairs(redis.call('ZRANGEBYSCORE', map_key(name, 'i_mmap'), '-inf', I(index))) do
  local pid, s = string.match(member, '^(%d+):(%d+)$')
  local r = redis.call('ZRANGEBYSCORE', mm_key(pid, 'vmas'), s, s)
  if r[1] then
    local v = cjson.decode(r[1])
    local vpn = v.s / 4096 + (index - v.pg)
    if vpn < v.e / 4096 then
      local pte = redis.call('HGET', mm_key(pid, 'pte'), I(vpn))
      local d = pte and pte_decode(pte)
      local pmd = not pte and RM.pmd_get(pid, math.floor(vpn / 512))
      local h = pmd and pte_decode(pmd)
      if d and d.pfn == pfn and d.node == node and not has(d.bits, PTE_ANON + PTE_ZERO) then
        add(pid, vpn * 4096, 'file', 1, tasks_of(pid))
      elseif h and h.head == head and h.node == node then
        add(pid, (vpn - vpn % 512) * 4096, 'pmd', 1, tasks_of(pid))   -- page_vma_mapped_walk found a PMD
      end
    end
  else
    local run = redis.call('HGET', mm_key(pid, 'runs'), s)
    local d = run and cjson.decode(run)
    if d and d.pfn == pfn and d.node == node then add(pid, d.s, 'run', d.n, tasks_of(pid)) end
  end
end
return out
