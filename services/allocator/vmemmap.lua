-- struct page records in Redis: the library every script that edits struct pages starts with (see vmemmap.py)
local VM_PREFIX, VM_NODE_START, VM_NODE_END = '', 0, 0
local VM_REC = 56
local VM_PER_CHUNK = 4096
local VM_FMT = '<I4i4i8i8i8i8i8i4I4'
local INT_MAX = 2147483647
local PAGE_TYPE_BASE = -268435456  -- 0xf0000000 as a signed 32-bit value
local PT_BUDDY, PT_OFFLINE, PT_TABLE, PT_GUARD, PT_SLAB = 128, 256, 512, 1024, 2048
local VM_FIELDS = {flags={0,'<I4',4}, mapcount={4,'<i4',4}, page_type={4,'<i4',4},
  w0={8,'<i8',8}, w1={16,'<i8',8}, w2={24,'<i8',8}, w3={32,'<i8',8}, w4={40,'<i8',8},
  refcount={48,'<i4',4}, memcg={52,'<I4',4}}
local VM_ALIASES = {lru_next='w0', lru_prev='w1', mapping='w2', index='w3', private='w4', compound_head='w0'}

local function mm_fail(code, msg)
  error('MMSIM ' .. code .. ' ' .. msg, 0)
end

local function vm_init(prefix, node_start, node_end)
  VM_PREFIX, VM_NODE_START, VM_NODE_END = prefix, tonumber(node_start), tonumber(node_end)
end

-- scripts that touch pages of any node: vm_spans('0:start:end,1:start:end') once, then vm_node(nid)
local VM_SPANS, VM_NODE = {}, nil
local function vm_spans(spec)
  for n, a, b in string.gmatch(spec, '(%d+):(%d+):(%d+)') do VM_SPANS[tonumber(n)] = {tonumber(a), tonumber(b)} end
end

local function vm_node(nid)
  nid = tonumber(nid)
  if nid == VM_NODE then return end
  local sp = VM_SPANS[nid]
  if not sp then mm_fail('InvalidArgument', 'no NUMA node ' .. nid) end
  vm_init('mmsim:{node:' .. nid .. '}:', sp[1], sp[2])
  VM_NODE = nid
end

local function vm_loc(pfn)
  if pfn < VM_NODE_START or pfn >= VM_NODE_END or pfn ~= math.floor(pfn) then
    mm_fail('InvalidArgument', string.format('pfn %d is outside node memory (pfns %d..%d)', pfn, VM_NODE_START, VM_NODE_END - 1))
  end
  local rel = pfn - VM_NODE_START
  return VM_PREFIX .. 'vmemmap:' .. math.floor(rel / VM_PER_CHUNK), (rel % VM_PER_CHUNK) * VM_REC
end

local function page_get(pfn)
  local key, off = vm_loc(pfn)
  local raw = redis.call('GETRANGE', key, off, off + VM_REC - 1)
  if #raw ~= VM_REC then
    mm_fail('FailedPrecondition', string.format('vmemmap of pfn %d is not initialised (memmap_init not run)', pfn))
  end
  local f, mc, w0, w1, w2, w3, w4, rc, mg = struct.unpack(VM_FMT, raw)
  return {flags=f, mapcount=mc, w0=w0, w1=w1, w2=w2, w3=w3, w4=w4, refcount=rc, memcg=mg}
end

local function page_pack(p)
  return struct.pack(VM_FMT, p.flags, p.mapcount, p.w0, p.w1, p.w2, p.w3, p.w4, p.refcount, p.memcg)
end

local function page_put(pfn, p)
  local key, off = vm_loc(pfn)
  redis.call('SETRANGE', key, off, page_pack(p))
end

-- write n identical records starting at pfn (at most 2 SETRANGEs per chunk crossed)
local function page_put_run(pfn, n, rec)
  while n > 0 do
    local key, off = vm_loc(pfn)
    local room = VM_PER_CHUNK - off / VM_REC
    local k = math.min(room, n)
    redis.call('SETRANGE', key, off, string.rep(rec, k))
    pfn = pfn + k
    n = n - k
  end
end

local function page_is_type(p, pt)
  return bit.band(p.mapcount, bit.bor(PAGE_TYPE_BASE, pt)) == PAGE_TYPE_BASE
end

local function page_type_value(pt)
  return bit.band(-1, bit.bnot(pt))
end

local function vm_field(name)
  local f = VM_FIELDS[VM_ALIASES[name] or name]
  if not f then mm_fail('InvalidArgument', 'no struct page field ' .. tostring(name)) end
  return f
end

local function page_get_field(pfn, name)
  local f = vm_field(name)
  local key, off = vm_loc(pfn)
  local raw = redis.call('GETRANGE', key, off + f[1], off + f[1] + f[3] - 1)
  if #raw ~= f[3] then mm_fail('FailedPrecondition', string.format('vmemmap of pfn %d is not initialised', pfn)) end
  return (struct.unpack(f[2], raw))
end

local function page_set_field(pfn, name, value)
  local f = vm_field(name)
  value = tonumber(value)
  if f[2] == '<i4' and (value < -2147483648 or value > INT_MAX) then
    mm_fail('OutOfRange', string.format('%s = %d does not fit a signed 32-bit field (pfn %d)', name, value, pfn))
  elseif f[2] == '<I4' and (value < 0 or value > 4294967295) then
    mm_fail('OutOfRange', string.format('%s = %d does not fit an unsigned 32-bit field (pfn %d)', name, value, pfn))
  elseif f[3] == 8 and math.abs(value) >= 9007199254740992 then
    mm_fail('OutOfRange', string.format('%s = %s is not below 2^53 (pfn %d)', name, tostring(value), pfn))
  end
  local key, off = vm_loc(pfn)
  redis.call('SETRANGE', key, off + f[1], struct.pack(f[2], value))
  return value
end

local function u32(v)
  if v < 0 then return v + 4294967296 end
  return v
end

local function page_flags_set(pfn, mask)
  local p = page_get_field(pfn, 'flags')
  local v = u32(bit.bor(p, mask))
  page_set_field(pfn, 'flags', v)
  return v
end

local function page_flags_clear(pfn, mask)
  local p = page_get_field(pfn, 'flags')
  local v = u32(bit.band(p, bit.bnot(mask)))
  page_set_field(pfn, 'flags', v)
  return v
end

local function page_test_flag(pfn, mask)
  return bit.band(page_get_field(pfn, 'flags'), mask) ~= 0
end

local function page_ref_add(pfn, delta)
  local p = page_get(pfn)
  if page_is_type(p, PT_BUDDY) then
    mm_fail('FailedPrecondition', string.format('pfn %d is free (PageBuddy): no references can be taken', pfn))
  end
  local n = p.refcount + delta
  if n > INT_MAX then
    mm_fail('OutOfRange', string.format('_refcount overflow on pfn %d: %d + %d passes INT_MAX', pfn, p.refcount, delta))
  elseif n < 0 then
    mm_fail('FailedPrecondition', string.format('_refcount underflow on pfn %d: %d + %d < 0', pfn, p.refcount, delta))
  end
  page_set_field(pfn, 'refcount', n)
  return n
end

local function page_try_get(pfn)
  local p = page_get(pfn)
  if p.refcount <= 0 or p.refcount >= INT_MAX or page_is_type(p, PT_BUDDY) then return 0 end
  page_set_field(pfn, 'refcount', p.refcount + 1)
  return 1
end

local function page_ref_freeze(pfn, expected)
  local p = page_get(pfn)
  if p.refcount ~= expected then return 0 end
  page_set_field(pfn, 'refcount', 0)
  return 1
end

local function page_mapcount_add(pfn, delta)
  local p = page_get(pfn)
  for _, pt in ipairs({PT_BUDDY, PT_OFFLINE, PT_TABLE, PT_GUARD, PT_SLAB}) do
    if page_is_type(p, pt) then
      mm_fail('FailedPrecondition', string.format('pfn %d has a page_type (0x%x): _mapcount is not in use', pfn, u32(p.mapcount)))
    end
  end
  local n = p.mapcount + delta
  if n > INT_MAX then
    mm_fail('OutOfRange', string.format('_mapcount overflow on pfn %d: %d + %d passes INT_MAX', pfn, p.mapcount, delta))
  elseif n < -1 then
    mm_fail('FailedPrecondition', string.format('_mapcount underflow on pfn %d: %d + %d < -1', pfn, p.mapcount, delta))
  end
  page_set_field(pfn, 'mapcount', n)
  return n
end

local function page_compound_head(pfn)
  local w0 = page_get_field(pfn, 'w0')
  if w0 % 2 == 1 then return (w0 - 1) / 2 end
  return pfn
end

local function mapping_intern(name)
  local key = VM_PREFIX .. 'intern'
  local id = redis.call('HGET', key, 'n:' .. name)
  if id then return tonumber(id) end
  id = redis.call('HINCRBY', key, '#next', 4)  -- multiples of 4: bits 0-1 stay free (PAGE_MAPPING_ANON/MOVABLE)
  redis.call('HSET', key, 'n:' .. name, id, 'i:' .. id, name)
  return id
end

local function mapping_name(id)
  return redis.call('HGET', VM_PREFIX .. 'intern', 'i:' .. id)
end
