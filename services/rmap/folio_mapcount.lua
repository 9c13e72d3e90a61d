-- folio_mapcount (include/linux/mm.h) and friends: the raw _mapcount, _refcount, the leak pin, and the
-- per-process mappings found by the rmap walk (anon_vma for an anonymous page, i_mmap for a file page)
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
local pinned = redis.call('SISMEMBER', node_key(node, 'rmap_pinned'), I(head))
local out = {'ok', I(total), I(p.mapcount), I(hp.refcount), I(pinned), I(head), I(order)}
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
