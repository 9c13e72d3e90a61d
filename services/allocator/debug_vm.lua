-- CONFIG_DEBUG_VM-style scan of one run of struct pages (within one vmemmap chunk; one GETRANGE).
-- Runs after the vmemmap library. KEY and ARG: mmsim.allocator.debug_vm.SCAN.
-- Reply: {'scan', JSON of {next = first pfn after the last block seen, mapped = sum of _mapcount + 1 over mapped pages,
--   owners = {kind = pages}, buddy = {'ORDER:MT' = free blocks seen}, caller = {pfn, order, ...} (allocated,
--   no other owner: page_owner only, or a vmalloc area: the caller tells them apart), bad = {{rule, pfn, msg}}}}
vm_init(KEY.node, ARG.node_start, ARG.node_end)
local lo, hi, limit = tonumber(ARG.lo), tonumber(ARG.hi), tonumber(ARG.max_violations)
local zname, zstart, zend = string.match(ARG.zone, '^(%w+):(%d+):(%d+)$')
zstart, zend = tonumber(zstart), tonumber(zend)
local chunk = math.floor((lo - VM_NODE_START) / VM_PER_CHUNK)
local first = VM_NODE_START + chunk * VM_PER_CHUNK
local base = lo
local raw = redis.call('GETRANGE', VM_PREFIX .. 'vmemmap:' .. chunk, (lo - first) * VM_REC, (hi - first) * VM_REC - 1)
local FREE = struct.pack(VM_FMT, 0, -1, 0, 0, 0, 0, 0, 0, 0)
local out = {mapped = 0, owners = {buddy = 0, page_cache = 0, anon = 0, in_flight = 0}, buddy = {}, caller = {}, bad = {}}

local function bad(rule, pfn, msg)
  if #out.bad < limit then out.bad[#out.bad + 1] = {rule, pfn, msg} end
end
local function rec(pfn)
  local off = (pfn - base) * VM_REC
  return string.sub(raw, off + 1, off + VM_REC)
end
local function dec(r)
  if #r ~= VM_REC then return nil end
  local f, mc, w0, w1, w2, w3, w4, rc, mg = struct.unpack(VM_FMT, r)
  return {flags = f, mapcount = mc, w0 = w0, w1 = w1, w2 = w2, w3 = w3, w4 = w4, refcount = rc, memcg = mg}
end
local function typed(p)
  for _, pt in ipairs({PT_BUDDY, PT_OFFLINE, PT_TABLE, PT_GUARD, PT_SLAB}) do
    if page_is_type(p, pt) then return true end
  end
  return false
end
local function I(n) return string.format('%d', n) end

local pfn = lo
while pfn < hi do
  local p = dec(rec(pfn))
  if not p then bad('vmemmap_missing', pfn, 'no struct page record (memmap_init not run for this pfn)'); break end
  if page_is_type(p, PT_BUDDY) then
    local o, mt = p.w4, p.w1
    local n = 2 ^ o
    if pfn % n ~= 0 or pfn + n > zend then
      bad('buddy_block_misaligned', pfn, string.format('free block of order %d at pfn %d is not aligned or leaves zone %s', o, pfn, zname))
    end
    if not redis.call('ZSCORE', VM_PREFIX .. 'free:' .. zname .. ':' .. o .. ':' .. mt, I(pfn)) then
      bad('buddy_not_on_free_list', pfn, string.format('PageBuddy order %d migratetype %d, but not on free_area[%d].free_list[%d] of zone %s', o, mt, o, mt, zname))
    end
    if redis.call('HEXISTS', VM_PREFIX .. 'owner', I(pfn)) == 1 then
      bad('pfn_two_owners', pfn, string.format('free (PageBuddy order %d) and allocated (page_owner %s)', o, redis.call('HGET', VM_PREFIX .. 'owner', I(pfn))))
    end
    if redis.call('HEXISTS', VM_PREFIX .. 'ledger', I(pfn)) == 1 then
      bad('pfn_two_owners', pfn, string.format('free (PageBuddy order %d) and in flight (ledger %s)', o, redis.call('HGET', VM_PREFIX .. 'ledger', I(pfn))))
    end
    local k = I(o) .. ':' .. I(mt)
    out.buddy[k] = (out.buddy[k] or 0) + 1
    out.owners.buddy = out.owners.buddy + n
    for t = pfn + 1, math.min(pfn + n, hi) - 1 do
      if rec(t) ~= FREE then bad('free_page_in_use', t, string.format('inside the free order-%d block at pfn %d, but its struct page is not clear', o, pfn)) end
    end
    pfn = pfn + n
  else
    local own = redis.call('HGET', VM_PREFIX .. 'owner', I(pfn))
    if own then
      local o = tonumber(string.match(own, '^(%d+)'))
      local n = 2 ^ o
      if p.refcount < 1 then bad('allocated_refcount', pfn, string.format('allocated (page_owner %s) with _refcount %d', own, p.refcount)) end
      local kind = 'none'
      if p.w2 == 0 then kind = 'none' elseif p.w2 % 2 == 1 then kind = 'anon' else kind = 'page_cache' end
      local lv = redis.call('HGET', VM_PREFIX .. 'ledger', I(pfn))
      if lv then
        local e = ledger_parse(lv)
        if e.order ~= o then bad('ledger_order', pfn, string.format('ledger says order %d, page_owner order %d', e.order, o)) end
        if kind ~= 'none' then
          bad('pfn_two_owners', pfn, string.format('in flight (ledger: %s, trace %s) and owned by the %s (->mapping %d)', e.purpose, e.trace, kind, p.w2))
        end
        out.owners.in_flight = out.owners.in_flight + n
      elseif kind == 'none' then
        out.caller[#out.caller + 1] = pfn; out.caller[#out.caller + 1] = o
      else
        out.owners[kind] = out.owners[kind] + n
      end
      local comp = bit.band(p.flags, PG_HEAD) ~= 0
      for t = pfn, math.min(pfn + n, hi) - 1 do
        local tp = p
        if t > pfn then
          tp = dec(rec(t))
          if page_is_type(tp, PT_BUDDY) then
            bad('pfn_two_owners', t, string.format('inside the order-%d allocation at pfn %d and free (PageBuddy)', o, pfn))
          elseif redis.call('HEXISTS', VM_PREFIX .. 'owner', I(t)) == 1 then
            bad('pfn_two_owners', t, string.format('inside the order-%d allocation at pfn %d and the head of another (page_owner %s)', o, pfn, redis.call('HGET', VM_PREFIX .. 'owner', I(t))))
          elseif comp and tp.w0 ~= pfn * 2 + 1 then
            bad('compound_tail', t, string.format('tail of the compound page at pfn %d, but compound_head says %d', pfn, tp.w0))
          end
        end
        if not typed(tp) and tp.mapcount >= 0 then out.mapped = out.mapped + tp.mapcount + 1 end
      end
      pfn = pfn + n
    else
      bad('pfn_no_owner', pfn, 'neither free (PageBuddy), nor the head of an allocation (page_owner), nor inside one')
      pfn = pfn + 1
    end
  end
end
out.next = pfn
return {'scan', cjson.encode(out)}
