-- one allocation attempt (get_page_from_freelist: the zonelist's watermark checks, __rmqueue_smallest +
-- expand, __rmqueue_fallback, prep_new_page), all or none for a bulk request
-- KEY, ARG and replies: mmsim.allocator.buddy.ALLOC (its Spec names them and says what each holds)
vm_init(KEY.node, ARG.node_start, ARG.node_end)
PREFIX = KEY.node
local order, gfp, mt, count = tonumber(ARG.order), tonumber(ARG.gfp), tonumber(ARG.mt), tonumber(ARG.count)
parse_zones(ARG.zones)
local zonelist = {}
for z in string.gmatch(ARG.zonelist, '[%w]+') do zonelist[#zonelist + 1] = z end
local classzone = tonumber(ARG.classzone)
local passes = {}
for f in string.gmatch(ARG.passes, '%d+') do passes[#passes + 1] = tonumber(f) end
local comp, zero, stall, final = ARG.comp == '1', ARG.zero == '1', ARG.stall == '1', ARG.final == '1'
local czname = ARG.classzone_name
local VMSTAT = PREFIX .. 'vmstat'
local why = {}

local function zone_state(zone)
  local f = {'min', 'low', 'high', 'nr_free_pages', 'reserve:' .. classzone}
  for o = 0, MAX_ORDER do f[#f + 1] = 'nr_free:' .. o end
  local v = redis.call('HMGET', PREFIX .. 'zone:' .. zone, unpack(f))
  local st = {marks = {tonumber(v[1]), tonumber(v[2]), tonumber(v[3])}, free = tonumber(v[4]), reserve = tonumber(v[5]) or 0, nr = {}}
  for o = 0, MAX_ORDER do st.nr[o] = tonumber(v[6 + o]) or 0 end
  return st
end

-- __zone_watermark_ok
local function watermark_ok(zone, flags)
  if bit.band(flags, ALLOC_NO_WATERMARKS) ~= 0 then return true end
  local st = zone_state(zone)
  local mark = st.marks[bit.band(flags, 3) + 1]
  local free = st.free - (2 ^ order - 1)
  local min = mark
  if bit.band(flags, ALLOC_RESERVES) ~= 0 then
    if bit.band(flags, ALLOC_MIN_RESERVE) ~= 0 then
      min = min - math.floor(min / 2)
      if bit.band(flags, ALLOC_NON_BLOCK) ~= 0 then min = min - math.floor(min / 4) end
    end
    if bit.band(flags, ALLOC_OOM) ~= 0 then min = min - math.floor(min / 2) end
  end
  if free <= min + st.reserve then
    why[#why + 1] = string.format('%s: free %d - %d <= %s %d + lowmem_reserve %d', zone, st.free, 2 ^ order - 1,
      ({'min', 'low', 'high'})[bit.band(flags, 3) + 1], min, st.reserve)
    return false
  end
  if order == 0 then return true end
  for o = order, MAX_ORDER do
    if st.nr[o] > 0 then return true end
  end
  why[#why + 1] = string.format('%s: no free block of order >= %d (free pages %d)', zone, order, st.free)
  return false
end

local function first(key)
  local r = redis.call('ZRANGE', key, 0, 0)
  return tonumber(r[1])
end

local function take(zone, pfn, o, lmt)
  redis.call('ZREM', free_key(zone, o, lmt), pfn)
  redis.call('HINCRBY', PREFIX .. 'zone:' .. zone, 'nr_free:' .. o, -1)
end

-- expand: put the upper halves on the free lists of decreasing order
local function expand(zone, pfn, low, high, lmt)
  while high > low do
    high = high - 1
    add_free(zone, pfn + 2 ^ high, high, lmt)
  end
end

-- __rmqueue: __rmqueue_smallest, then the fallback (claim large blocks, else steal)
local function rmqueue(zone)
  for o = order, MAX_ORDER do
    local pfn = first(free_key(zone, o, mt))
    if pfn then take(zone, pfn, o, mt); expand(zone, pfn, order, o, mt); return pfn end
  end
  for o = MAX_ORDER, math.max(order, PAGEBLOCK_ORDER), -1 do
    for _, fmt in ipairs(FALLBACKS[mt]) do
      local pfn = first(free_key(zone, o, fmt))
      if pfn then
        take(zone, pfn, o, fmt); pb_set(pfn, o, mt); expand(zone, pfn, order, o, mt)
        return pfn
      end
    end
  end
  for o = order, MAX_ORDER do
    for _, fmt in ipairs(FALLBACKS[mt]) do
      local pfn = first(free_key(zone, o, fmt))
      if pfn then take(zone, pfn, o, fmt); expand(zone, pfn, order, o, fmt); return pfn end
    end
  end
  return nil
end

local function get_page_from_freelist(flags)
  for _, zone in ipairs(zonelist) do
    if watermark_ok(zone, flags) then
      local pfn = rmqueue(zone)
      if pfn then return pfn, zone end
      why[#why + 1] = zone .. ': no block of a usable migratetype'
    end
  end
  return nil
end

-- prep_new_page / post_alloc_hook
local function prep_new_page(pfn, zone)
  local flags = 0
  if comp and order > 0 then flags = PG_HEAD end
  if zero then flags = flags + PG_ZEROED end
  page_put(pfn, {flags=flags, mapcount=-1, w0=0, w1=0, w2=0, w3=0, w4=0, refcount=1, memcg=0})
  if zero then redis.call('DEL', PREFIX .. 'mem:' .. pfn) end
  if comp and order > 0 then
    local tail = {flags=0, mapcount=-1, w0=pfn * 2 + 1, w1=0, w2=0, w3=0, w4=0, refcount=0, memcg=0}
    local first_tail = {flags=0, mapcount=-1, w0=pfn * 2 + 1, w1=order, w2=-1, w3=0, w4=0, refcount=0, memcg=0}
    page_put(pfn + 1, first_tail)
    if order > 1 then page_put_run(pfn + 2, 2 ^ order - 2, page_pack(tail)) end
  end
  redis.call('HSET', PREFIX .. 'owner', pfn, order .. ':' .. gfp)
  redis.call('HINCRBY', PREFIX .. 'zone:' .. zone, 'nr_free_pages', -(2 ^ order))
end

if stall then redis.call('HINCRBY', VMSTAT, 'allocstall_' .. czname, 1) end
local compacted = ARG.compacted == '1'   -- the attempt after a direct compaction: compact_success / compact_fail

local got, zones_used, pass_used = {}, {}, 0
for _ = 1, count do
  local pfn, zone
  for p, flags in ipairs(passes) do
    pfn, zone = get_page_from_freelist(flags)
    if pfn then pass_used = math.max(pass_used, p); break end
  end
  if not pfn then
    -- roll back a partial bulk allocation (vmalloc): the pages merge back to the same blocks
    for j = #got, 1, -1 do
      local zn, zr = zone_of(got[j])
      redis.call('HDEL', PREFIX .. 'owner', got[j])
      redis.call('HINCRBY', PREFIX .. 'zone:' .. zn, 'nr_free_pages', 2 ^ order)
      free_one_page(zn, zr, got[j], order, pb_get(got[j]))
    end
    if compacted then redis.call('HINCRBY', VMSTAT, 'compact_fail', 1) end
    if final then redis.call('HINCRBY', VMSTAT, 'mmsim_alloc_fail_order_' .. order, count) end
    return {'failed', table.concat(why, '; ')}
  end
  prep_new_page(pfn, zone)
  got[#got + 1] = pfn
  zones_used[zone] = (zones_used[zone] or 0) + 2 ^ order
end
for zone, pages in pairs(zones_used) do
  redis.call('HINCRBY', VMSTAT, 'pgalloc_' .. string.lower(zone), pages)
end
redis.call('HINCRBY', VMSTAT, 'mmsim_alloc_success_order_' .. order, count)
if compacted then redis.call('HINCRBY', VMSTAT, 'compact_success', 1) end
if ARG.ledger_purpose ~= '' then
  -- in flight: owned by the request (ledger_trace = its trace id) until a consumer takes the block over
  for _, pfn in ipairs(got) do ledger_put(pfn, order, ARG.ledger_purpose, ARG.ledger_trace) end
end
local out = {'allocated', pass_used}
if ARG.vmalloc == '1' then
  -- vmalloc area (the vm_struct of __vmalloc_area_node): pages + size, one guard page after it
  local start = redis.call('HINCRBY', PREFIX .. 'kv:next', 'page', count + 1) - count - 1
  local list = {}
  for i, pfn in ipairs(got) do list[i] = string.format('%d', pfn) end
  redis.call('HSET', PREFIX .. 'kv:' .. start, 'pfns', table.concat(list, ','), 'size', ARG.vmalloc_size, 'gfp', gfp, 'nr_pages', count)
  redis.call('HINCRBY', PREFIX .. 'kv:next', 'vmalloc_pages', count)
  out = {'vmalloc', pass_used, start}
end
for _, pfn in ipairs(got) do out[#out + 1] = pfn end
return out
