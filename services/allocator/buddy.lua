-- The buddy allocator's library (mm/page_alloc.c): zones, free lists, pageblock migratetypes, expand and
-- __free_one_page; after the vmemmap library. buddy_alloc.lua and buddy_free.lua are the two scripts.
local MAX_ORDER = 10
local PAGEBLOCK_ORDER = 9
local ALLOC_NO_WATERMARKS, ALLOC_OOM, ALLOC_NON_BLOCK, ALLOC_MIN_RESERVE, ALLOC_HIGHATOMIC = 4, 8, 16, 32, 512
local ALLOC_RESERVES = ALLOC_NON_BLOCK + ALLOC_MIN_RESERVE + ALLOC_HIGHATOMIC + ALLOC_OOM
local FALLBACKS = {[0] = {2, 1}, [1] = {2, 0}, [2] = {0, 1}}
local ZONES = {}   -- name -> {start, end}
local PREFIX = ''

local function parse_zones(spec)
  for name, s, e in string.gmatch(spec, '([%w]+):(%d+):(%d+)') do
    ZONES[name] = {tonumber(s), tonumber(e)}
  end
end

local function zone_of(pfn)
  for name, r in pairs(ZONES) do
    if pfn >= r[1] and pfn < r[2] then return name, r end
  end
  mm_fail('NotFound', string.format('pfn %d is not in any zone of this node', pfn))
end

local function free_key(zone, order, mt)
  return PREFIX .. 'free:' .. zone .. ':' .. order .. ':' .. mt
end

local function pb_get(pfn)
  local idx = math.floor((pfn - VM_NODE_START) / 512)
  return string.byte(redis.call('GETRANGE', PREFIX .. 'pageblock', idx, idx))
end

local function pb_set(pfn, order, mt)
  local idx = math.floor((pfn - VM_NODE_START) / 512)
  local n = 1
  if order > PAGEBLOCK_ORDER then n = 2 ^ (order - PAGEBLOCK_ORDER) end
  redis.call('SETRANGE', PREFIX .. 'pageblock', idx, string.rep(string.char(mt), n))
end

local function add_free(zone, pfn, order, mt)
  page_put(pfn, {flags=0, mapcount=page_type_value(PT_BUDDY), w0=0, w1=mt, w2=0, w3=0, w4=order, refcount=0, memcg=0})
  redis.call('ZADD', free_key(zone, order, mt), pfn, pfn)
  redis.call('HINCRBY', PREFIX .. 'zone:' .. zone, 'nr_free:' .. order, 1)
end

local FREE_P = {flags=0, mapcount=-1, w0=0, w1=0, w2=0, w3=0, w4=0, refcount=0, memcg=0}

-- __free_one_page: merge with the buddy while it is a free block of the same order in the same zone
local function free_one_page(zone, zr, pfn, order, mt)
  page_put(pfn, FREE_P)
  while order < MAX_ORDER do
    local size = 2 ^ order
    local buddy
    if math.floor(pfn / size) % 2 == 0 then buddy = pfn + size else buddy = pfn - size end
    if buddy < zr[1] or buddy + size > zr[2] then break end
    local bp = page_get(buddy)
    if not (page_is_type(bp, PT_BUDDY) and bp.w4 == order) then break end
    redis.call('ZREM', free_key(zone, order, bp.w1), buddy)
    redis.call('HINCRBY', PREFIX .. 'zone:' .. zone, 'nr_free:' .. order, -1)
    page_put(buddy, FREE_P)
    if order >= PAGEBLOCK_ORDER and bp.w1 ~= mt then pb_set(buddy, order, mt) end
    if buddy < pfn then pfn = buddy end
    order = order + 1
  end
  add_free(zone, pfn, order, mt)
  return pfn, order
end
