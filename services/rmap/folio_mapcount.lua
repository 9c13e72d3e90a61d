-- folio_mapcount (include/linux/mm.h) and friends: the raw _mapcount, _refcount, the leak pin, and the
-- per-process mappings found by the rmap walk (anon_vma for an anonymous page, i_mmap for a file page).
-- folio_mapcount = every page's _mapcount + 1 plus folio_entire_mapcount (the PMDs: as _large_mapcount counts
-- them); page_mapcount = the page's _mapcount + 1 + folio_entire_mapcount.
vm_spans(ARG.spans)
local node, pfn = tonumber(ARG.node), tonumber(ARG.pfn)
local p, head, hp = RM.page_and_head(node, pfn)
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
local entire = 0
if order == RM.PMD_ORDER and has(hp.flags, PG_HEAD) then entire = page_get_field(head + 1, 'w2') + 1 end
total = total + entire
local pinned = redis.call('SISMEMBER', node_key(node, 'rmap_pinned'), I(head))
local out = {'ok', I(total), I(p.mapcount), I(hp.refcount), I(pinned), I(head), I(order), I(entire),
  I(math.max(p.mapcount + 1, 0) + entire)}
local pk = I(node) .. ':' .. I(pfn)
if has(hp.flags, PG_SWAPBACKED) and hp.w2 % 2 == 1 then
  for _, pid in ipairs(RM.anon_vma_pids((hp.w2 - 1) / 2)) do
    local c = redis.call('HGET', mm_key(pid, 'pagemaps'), pk)
    if c then out[#out + 1] = pid; out[#out + 1] = c end
  end
elseif hp.w2 ~= 0 then
  -- rmap_walk_file: the VMAs of i_mmap covering the page's index, then each process's count
  local name = mapping_name(hp.w2)
  local index = hp.w3 + (pfn - head)
  local seen = {}
  if name then
    local pmds = {}   -- pid -> PMDs of that process mapping the folio
    for _, member in ipairs(redis.call('ZRANGEBYSCORE', map_key(name, 'i_mmap'), '-inf', I(index))) do
      local pid, s = string.match(member, '^(%d+):(%d+)$')
      local v = cjson.decode(redis.call('ZRANGEBYSCORE', mm_key(pid, 'vmas'), s, s)[1] or '{"s":0,"e":0,"pg":0}')
      local vpn = v.s / 4096 + (index - v.pg)
      local pmd = entire > 0 and vpn < v.e / 4096 and RM.pmd_get(pid, math.floor(vpn / 512))
      if pmd and pte_decode(pmd).head == head then pmds[pid] = (pmds[pid] or 0) + 1 end
      seen[pid] = true
    end
    local pids = {}
    for pid in pairs(seen) do pids[#pids + 1] = pid end
    table.sort(pids, function(a, b) return tonumber(a) < tonumber(b) end)
    for _, pid in ipairs(pids) do
      local c = tonumber(redis.call('HGET', mm_key(pid, 'pagemaps'), pk) or '0') + (pmds[pid] or 0)
      if c > 0 then out[#out + 1] = pid; out[#out + 1] = I(c) end
    end
  end
end
return out
