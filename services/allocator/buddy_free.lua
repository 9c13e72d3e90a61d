-- __free_pages of one or more blocks (free_pages_prepare's bad_page checks first, then __free_one_page),
-- vfree of a vmalloc area, or one batch of the in-flight ledger's recovery pass
-- KEY and ARG: mmsim.allocator.buddy.FREE (the Spec names them; ARG.n says what ARG.items hold: n pfns,
-- n = -1 the vmalloc area id of a vfree, n = -2 the HSCAN cursor and deadline of a ledger recovery batch,
-- see ledger.lua); its replies: buddy.FREE's
vm_init(KEY.node, ARG.node_start, ARG.node_end)
PREFIX = KEY.node
local order = tonumber(ARG.order)
parse_zones(ARG.zones)
local n = tonumber(ARG.n)

local function flag_list(v)
  local out = {}
  for i, name in ipairs(FLAG_NAMES) do
    if bit.band(v, 2 ^ (i - 1)) ~= 0 then out[#out + 1] = name end
  end
  return table.concat(out, '|')
end

-- why a pfn is not the head of a live allocation
local function diagnose(pfn)
  local p = page_get(pfn)
  if page_is_type(p, PT_BUDDY) then
    mm_fail('FailedPrecondition', string.format('bad page: pfn %d is already free (PageBuddy, order %d)', pfn, p.w4))
  end
  if p.w0 % 2 == 1 then
    mm_fail('FailedPrecondition', string.format('bad page: not a head page: pfn %d is a tail of the compound page at pfn %d', pfn, (p.w0 - 1) / 2))
  end
  for o = 1, MAX_ORDER do
    local h = pfn - pfn % (2 ^ o)
    if h >= VM_NODE_START then
      local own = redis.call('HGET', PREFIX .. 'owner', h)
      if own then
        local ho = tonumber(string.match(own, '^(%d+)'))
        if ho >= o then
          mm_fail('FailedPrecondition', string.format('bad page: not a head page: pfn %d is inside the order-%d allocation at pfn %d', pfn, ho, h))
        end
      end
      local hp = page_get(h)
      if page_is_type(hp, PT_BUDDY) and hp.w4 >= o then
        mm_fail('FailedPrecondition', string.format('bad page: pfn %d is already free (inside the free order-%d block at pfn %d)', pfn, hp.w4, h))
      end
    end
  end
  mm_fail('FailedPrecondition', string.format('bad page: pfn %d is not the head of an allocation', pfn))
end

-- free_pages_prepare checks of one block; returns its order and nil, or the bad_page reason
-- ('unowned' when the allocator has no record of it: diagnose() says why)
local function free_check(pfn, order, resolve)
  local own = redis.call('HGET', PREFIX .. 'owner', pfn)
  if not own then return order, 'unowned' end
  local ao = tonumber(string.match(own, '^(%d+)'))
  if order == -1 and resolve then order = ao end
  if ao ~= order then
    return order, string.format('bad page: free with the wrong order: pfn %d was allocated with order %d, freed with order %d', pfn, ao, order)
  end
  local p = page_get(pfn)
  if p.mapcount ~= -1 then
    return order, string.format('bad page: pfn %d: nonzero mapcount (_mapcount %d)', pfn, p.mapcount)
  end
  if p.w2 ~= 0 then
    return order, string.format('bad page: pfn %d: non-NULL mapping (%d)', pfn, p.w2)
  end
  if p.refcount ~= 1 then
    return order, string.format('bad page: pfn %d: nonzero _refcount (%d after dropping the allocation reference)', pfn, p.refcount - 1)
  end
  if bit.band(p.flags, CHECK_AT_FREE) ~= 0 then
    return order, string.format('bad page: pfn %d: PAGE_FLAGS_CHECK_AT_FREE flag(s) set (%s)', pfn, flag_list(bit.band(p.flags, CHECK_AT_FREE)))
  end
  return order, nil
end

-- all checks before any write
local pfns, ords = {}, {}
local vm_area, reclaim = nil, nil
if n == -1 then
  -- vfree: items = {the vmalloc area id}
  vm_area = PREFIX .. 'kv:' .. ARG.items[1]
  local v = redis.call('HGET', vm_area, 'pfns')
  if not v then mm_fail('NotFound', 'vfree: no vmalloc area at this address (double free?)') end
  for x in string.gmatch(v, '%d+') do pfns[#pfns + 1] = tonumber(x) end
  n = #pfns
  order = 0
elseif n == -2 then
  -- the recovery pass: items = {HSCAN cursor over the ledger, deadline (ms since the entry)}
  local deadline = tonumber(ARG.items[2])
  local now = ledger_now_ms()
  local r = redis.call('HSCAN', PREFIX .. 'ledger', ARG.items[1], 'COUNT', 128)
  reclaim = {cursor = r[1], skipped = 0}
  for i = 1, #r[2], 2 do
    local pfn, e = tonumber(r[2][i]), ledger_parse(r[2][i + 1])
    if now - e.since > deadline then
      local o, why = free_check(pfn, e.order, false)
      if why then reclaim.skipped = reclaim.skipped + 1
      else pfns[#pfns + 1] = pfn; ords[#pfns] = o end
    end
  end
  n = #pfns
else
  for i = 1, n do pfns[i] = tonumber(ARG.items[i]) end
end
if not reclaim then
  for i = 1, n do
    local o, why = free_check(pfns[i], order, n == 1)
    if why == 'unowned' then diagnose(pfns[i]) elseif why then mm_fail('FailedPrecondition', why) end
    ords[i] = o
  end
  if n == 1 then order = ords[1] end
end
local out, freed_pages = {'freed', order}, 0
for i = 1, n do
  local pfn, o = pfns[i], ords[i]
  local p = page_get(pfn)
  if o > 0 and bit.band(p.flags, PG_HEAD) ~= 0 then
    page_put_run(pfn + 1, 2 ^ o - 1, page_pack(FREE_P))
  end
  redis.call('HDEL', PREFIX .. 'owner', pfn)
  ledger_drop(pfn)   -- a free ends an in-flight allocation too
  local zone, zr = zone_of(pfn)
  redis.call('HINCRBY', PREFIX .. 'zone:' .. zone, 'nr_free_pages', 2 ^ o)
  local head, merged = free_one_page(zone, zr, pfn, o, pb_get(pfn))
  out[#out + 1] = head
  out[#out + 1] = merged
  freed_pages = freed_pages + 2 ^ o
end
if freed_pages > 0 then redis.call('HINCRBY', PREFIX .. 'vmstat', 'pgfree', freed_pages) end
if reclaim then
  if freed_pages > 0 then redis.call('HINCRBY', PREFIX .. 'vmstat', 'mmsim_ledger_reclaimed', freed_pages) end
  return {'reclaimed', reclaim.cursor, n, freed_pages, reclaim.skipped}
end
if vm_area then
  redis.call('HINCRBY', PREFIX .. 'kv:next', 'vmalloc_pages', -n)
  redis.call('DEL', vm_area)
end
return out
